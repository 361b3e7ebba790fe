//! `run_checks`: runs the data-quality checks declared in config (all, or those of one table)
//! and records findings; returns each result with its numbers, window, threshold and SQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use super::checks::Check;
use super::engine::{CheckResult, Engine, Status};
use super::time;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Only the checks of this table (`schema.table`); all checks when absent.
    #[serde(default)]
    pub table: Option<String>,
    /// Only the check with this name.
    #[serde(default)]
    pub check: Option<String>,
    /// Evaluate as of this instant (RFC 3339 or a date, UTC); now when absent. Windows end at
    /// the last complete bucket before it.
    #[serde(default)]
    pub as_of: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Output {
    pub as_of: String,
    pub results: Vec<CheckResult>,
    /// Counts: ok, anomaly, check_error, and anomalies + errors per severity.
    pub summary: BTreeMap<String, usize>,
}

pub struct RunChecks {
    engine: Engine,
    checks: Arc<Vec<Check>>,
}

impl RunChecks {
    pub fn new(engine: Engine, checks: Arc<Vec<Check>>) -> Self {
        Self { engine, checks }
    }

    fn selected(&self, params: &Params) -> Result<Vec<Check>, ToolError> {
        if self.checks.is_empty() {
            return Err(ToolError::Failed(
                "no data-quality checks are configured: add [[checks]] entries to steward.toml \
                 (or a file named by dq.checks_file)"
                    .into(),
            ));
        }
        let selected: Vec<Check> = self
            .checks
            .iter()
            .filter(|c| {
                params
                    .table
                    .as_deref()
                    .is_none_or(|t| c.table.eq_ignore_ascii_case(t))
                    && params.check.as_deref().is_none_or(|n| c.name == n)
            })
            .cloned()
            .collect();
        if selected.is_empty() {
            let mut tables: Vec<&str> = self.checks.iter().map(|c| c.table.as_str()).collect();
            tables.dedup();
            let names: Vec<&str> = self.checks.iter().map(|c| c.name.as_str()).collect();
            return Err(ToolError::Failed(format!(
                "no configured check matches; tables with checks: {}; checks: {}",
                tables.join(", "),
                names.join(", ")
            )));
        }
        Ok(selected)
    }
}

impl TypedTool for RunChecks {
    type Params = Params;
    type Output = Output;
    const NAME: &'static str = "run_checks";
    const TITLE: &'static str = "Run data-quality checks";
    const DESCRIPTION: &'static str = "Run the configured data-quality checks (volume, \
        freshness, null_rate, uniqueness, schema, distribution) on the warehouse, all of them or \
        one table's, and record findings. Each result is ok, anomaly (with the measured value, \
        baseline, threshold, window, severity P0-P3 and the SQL behind it) or check_error (with \
        what to fix). Reads the warehouse only; findings are kept in Steward's own store.";
    // It never changes the warehouse: it reads aggregates and records its observations in
    // Steward's own store, and running it twice updates the same findings.
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        let checks = self.selected(params)?;
        let tables: Vec<&str> = checks.iter().map(|c| c.table.as_str()).collect();
        Ok(serde_json::json!({ "checks": checks.len(), "tables": tables }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<Output, ToolError> {
        let checks = self.selected(&params)?;
        let as_of = match &params.as_of {
            Some(text) => time::parse(text).map_err(|e| ToolError::InvalidParams {
                tool: Self::NAME,
                message: format!("as_of: {e}"),
            })?,
            None => time::now(),
        };
        let results = self
            .engine
            .run_and_record(ctx, &checks, as_of)
            .await
            .map_err(|e| ToolError::Failed(format!("recording findings failed: {e}")))?;
        Ok(Output {
            as_of: time::format(as_of),
            summary: summarize(&results),
            results,
        })
    }
}

fn summarize(results: &[CheckResult]) -> BTreeMap<String, usize> {
    let mut summary: BTreeMap<String, usize> = ["ok", "anomaly", "check_error"]
        .into_iter()
        .map(|k| (k.to_string(), 0))
        .collect();
    for result in results {
        let status = match result.status {
            Status::Ok => "ok",
            Status::Anomaly => "anomaly",
            Status::CheckError => "check_error",
        };
        *summary.entry(status.into()).or_default() += 1;
        if let Some(severity) = result.severity {
            *summary.entry(severity.to_string()).or_default() += 1;
        }
    }
    summary
}
