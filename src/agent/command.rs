//! `steward diagnose`: starts a run (or resumes one with `--resume RUN_ID`) as the local
//! operator, prints one progress line per step on stderr and the report on stdout (Markdown, or
//! the stable JSON schema with `--json`). Exit 0 completed, 2 waiting for approval, 3 budget
//! exhausted.

use std::process::ExitCode;

use super::diagnose::{Diagnoser, Progress, RunRequest};
use crate::app::App;

/// What `steward diagnose` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct DiagnoseCommand {
    pub table: Option<String>,
    pub description: Option<String>,
    pub resume: Option<String>,
    pub max_steps: Option<u32>,
    pub as_of: Option<String>,
    pub json: bool,
    /// List recent runs instead.
    pub list: bool,
}

struct Stderr;

impl Progress for Stderr {
    fn line(&self, text: &str) {
        eprintln!("{text}");
    }
}

/// The app's diagnoser (its pipeline, agent settings and run store).
pub fn diagnoser(app: &App) -> anyhow::Result<Diagnoser> {
    app.diagnoser
        .get()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the diagnosis agent did not start"))
}

pub async fn run(app: &App, command: DiagnoseCommand) -> anyhow::Result<ExitCode> {
    let diagnoser = diagnoser(app)?;
    if command.list {
        for (id, state, path, table, created) in diagnoser.runs().list(50).await? {
            println!("{id}  {created}  {state:<16} {path:<8} {table}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let report = match (&command.resume, &command.table) {
        (Some(id), _) => diagnoser.resume(id, &Stderr).await?,
        (None, Some(table)) => {
            let request = RunRequest {
                table: table.clone(),
                description: command.description.clone().unwrap_or_default(),
                max_steps: command.max_steps,
                as_of: command.as_of.clone(),
            };
            diagnoser.start(&app.operator(), &request, &Stderr).await?
        }
        (None, None) => anyhow::bail!(
            "say what to diagnose: --table SCHEMA.TABLE --description \"...\", --resume RUN_ID \
             or --list"
        ),
    };
    if command.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", report.markdown());
    }
    Ok(match report.status.as_str() {
        "completed" => ExitCode::SUCCESS,
        "waiting_approval" => ExitCode::from(2),
        "budget_exhausted" => ExitCode::from(3),
        _ => ExitCode::FAILURE,
    })
}
