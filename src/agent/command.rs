//! `steward diagnose`: starts a run (or resumes one with `--resume RUN_ID`) as the local
//! operator, prints one progress line per step on stderr and the report on stdout (Markdown, or
//! the stable JSON schema with `--json`). Exit 0 completed, 2 waiting for approval, 3 budget
//! exhausted.

use std::process::ExitCode;

use super::diagnose::{Diagnoser, RunRequest, StderrProgress};
use crate::app::App;

/// What `steward diagnose` was asked to do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DiagnoseCommand {
    /// The table the anomaly is in (schema.table).
    #[arg(long, value_name = "TABLE", conflicts_with = "resume")]
    pub table: Option<String>,
    /// What looks wrong, e.g. "row count dropped 60% since yesterday".
    #[arg(long, value_name = "TEXT", requires = "table")]
    pub description: Option<String>,
    /// Continue a stored run (killed, or waiting for an approval).
    #[arg(long, value_name = "RUN_ID")]
    pub resume: Option<String>,
    /// Most tool rounds for this run (default from [agent] max_steps).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u32>,
    /// Evaluate data-quality checks as of this instant (RFC 3339 or a date) instead of now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// List the most recent runs (id, created, state, path, table).
    #[arg(long, conflicts_with_all = ["table", "resume"])]
    pub list: bool,
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
        (Some(id), _) => diagnoser.resume(id, &StderrProgress { indent: "" }).await?,
        (None, Some(table)) => {
            let request = RunRequest {
                table: table.clone(),
                description: command.description.clone().unwrap_or_default(),
                max_steps: command.max_steps,
                as_of: command.as_of.clone(),
            };
            diagnoser
                .start(&app.operator(), &request, &StderrProgress { indent: "" })
                .await?
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
