//! `steward check`: runs the configured checks through the pipeline as the local operator and
//! prints one line per check (status, severity, whether the finding is new, the numbers; the
//! evidence SQL with `--json`) and exits non-zero when findings reach `--fail-on`.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::checks::Severity;
use crate::agent::diagnose::{RunRequest, StderrProgress};
use crate::agent::report::Report;
use crate::app::App;
use crate::pipeline::{Caller, Outcome};
use crate::principal::Channel;

/// What `steward check` was asked to do.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CheckCommand {
    /// Only the checks of this table (schema.table).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Only the check with this name.
    #[arg(long, value_name = "NAME")]
    pub check: Option<String>,
    /// Evaluate as of this instant (RFC 3339 or a date, UTC) instead of now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Print the results as JSON (the run_checks tool's output).
    #[arg(long)]
    pub json: bool,
    /// Exit 1 when an anomaly or check error at this severity or above exists (P0..P3).
    #[arg(long, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,
    /// Accept the table's current columns as the baseline of this schema check.
    #[arg(long, value_name = "CHECK")]
    pub accept_schema: Option<String>,
    /// Start a diagnosis run (see `steward diagnose`) for every new anomaly.
    #[arg(long)]
    pub diagnose: bool,
}

/// Runs the command; the exit code is 1 when a finding at or above `fail_on` exists.
pub async fn run(app: &App, command: CheckCommand) -> anyhow::Result<ExitCode> {
    let caller = Caller::new(app.operator(), Channel::Cli);
    if let Some(name) = &command.accept_schema {
        let check = app
            .config
            .dq
            .checks
            .iter()
            .find(|c| &c.name == name)
            .ok_or_else(|| anyhow::anyhow!("no configured check is called {name:?}"))?;
        let columns = app
            .dq
            .accept_schema(&caller.context(), check)
            .await
            .map_err(anyhow::Error::msg)?;
        println!(
            "{name}: accepted the current {columns} columns of {}",
            check.table
        );
        return Ok(ExitCode::SUCCESS);
    }
    let arguments = json!({
        "table": command.table,
        "check": command.check,
        "as_of": command.as_of,
    });
    let mut output = match app.pipeline.call(&caller, "run_checks", arguments).await? {
        Outcome::Completed(value) => value,
        Outcome::PendingApproval(pending) => anyhow::bail!(
            "policy requires approval to run checks ({}); see `steward approvals show {}`",
            pending.reason,
            pending.approval_id
        ),
    };
    let reports = if command.diagnose {
        diagnose_new_anomalies(app, &output, &command.as_of).await?
    } else {
        Vec::new()
    };
    if command.json {
        if command.diagnose {
            output["diagnoses"] = serde_json::to_value(&reports)?;
        }
        println!("{}", serde_json::to_string_pretty(&output)?);
    } else {
        print!("{}", render(&output));
        for report in &reports {
            println!("\n{}", report.markdown());
        }
    }
    let failing = output["results"].as_array().is_some_and(|results| {
        results.iter().any(|r| {
            let severity = r["severity"]
                .as_str()
                .and_then(|s| s.parse::<Severity>().ok());
            matches!((severity, command.fail_on), (Some(s), Some(limit)) if s <= limit)
        })
    });
    Ok(if failing {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// One diagnosis run per anomaly first seen in this run (ongoing ones were diagnosed before).
async fn diagnose_new_anomalies(
    app: &App,
    output: &Value,
    as_of: &Option<String>,
) -> anyhow::Result<Vec<Report>> {
    let diagnoser = crate::agent::command::diagnoser(app)?;
    let mut reports = Vec::new();
    for result in output["results"].as_array().into_iter().flatten() {
        if result["status"] != "anomaly" || result["finding"]["new"] != Value::Bool(true) {
            continue;
        }
        let table = result["table"].as_str().unwrap_or_default();
        let description = format!(
            "data-quality check {} found an anomaly: {}",
            result["check"].as_str().unwrap_or("?"),
            result["message"].as_str().unwrap_or("")
        );
        eprintln!("diagnosing new finding in {table}");
        let request = RunRequest {
            table: table.to_string(),
            description,
            max_steps: None,
            as_of: as_of.clone(),
        };
        let report = diagnoser
            .start(&app.operator(), &request, &StderrProgress { indent: "  " })
            .await?;
        reports.push(report);
    }
    Ok(reports)
}

/// The readable report: a summary line, then one line per check.
pub fn render(output: &Value) -> String {
    let results = output["results"].as_array().cloned().unwrap_or_default();
    let count = |status: &str| results.iter().filter(|r| r["status"] == status).count();
    let mut out = format!(
        "as of {}: {} check(s) — {} ok, {} anomaly, {} check_error\n",
        output["as_of"].as_str().unwrap_or("?"),
        results.len(),
        count("ok"),
        count("anomaly"),
        count("check_error"),
    );
    let width = results
        .iter()
        .filter_map(|r| r["check"].as_str().map(str::len))
        .max()
        .unwrap_or(5);
    for r in &results {
        let status = r["status"].as_str().unwrap_or("?");
        let finding = match (&r["finding"]["new"], &r["finding"]["occurrences"]) {
            (Value::Bool(true), _) => "new".to_string(),
            (Value::Bool(false), Value::Number(n)) => format!("seen {n}x"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{status:<11} {:<3} {:<8} {:<width$}  {}\n",
            r["severity"].as_str().unwrap_or("-"),
            finding,
            r["check"].as_str().unwrap_or("?"),
            r["message"].as_str().unwrap_or(""),
        ));
    }
    if results.iter().any(|r| r["status"] != "ok") {
        out.push_str("evidence (SQL, windows, histograms): rerun with --json\n");
    }
    out
}
