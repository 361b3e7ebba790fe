//! `diagnose_anomaly`: starts a diagnosis run for the human behind the call (the agent's own
//! tool calls go through the same policy and approvals) and returns its report; each step is
//! reported as an MCP progress notification when the client asked for progress.

use std::sync::{Arc, OnceLock};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use super::diagnose::{Diagnoser, Progress, RunRequest};
use super::report::Report;
use crate::principal::Principal;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The table the anomaly is in, `schema.table`.
    pub table: String,
    /// What looks wrong, e.g. "row count of gold.orders dropped 60% since yesterday".
    pub description: String,
    /// Most tool rounds for this run (the server's default when absent).
    #[serde(default)]
    pub max_steps: Option<u32>,
    /// Evaluate data-quality checks as of this instant (RFC 3339 or a date); now when absent.
    #[serde(default)]
    pub as_of: Option<String>,
}

/// The diagnoser is set once the pipeline exists (it runs its steps through that pipeline).
pub type DiagnoserSlot = Arc<OnceLock<Diagnoser>>;

pub struct DiagnoseAnomaly {
    diagnoser: DiagnoserSlot,
}

impl DiagnoseAnomaly {
    pub fn new(diagnoser: DiagnoserSlot) -> Self {
        Self { diagnoser }
    }
}

struct ToCaller<'a>(&'a CallContext);

impl Progress for ToCaller<'_> {
    fn line(&self, text: &str) {
        self.0.report_progress(text);
    }
}

impl TypedTool for DiagnoseAnomaly {
    type Params = Params;
    type Output = Report;
    const NAME: &'static str = "diagnose_anomaly";
    const TITLE: &'static str = "Diagnose a data-quality anomaly";
    const DESCRIPTION: &'static str = "Start a diagnosis run: Steward's agent profiles the table \
        and its upstream, compares the anomaly window with history and writes a report (summary, \
        evidence with SQL, likely root cause with confidence, impact, proposed remediation, \
        approvals requested, cost). Without a language model it runs the deterministic runbook \
        and says so. Writes it proposes need a person's approval.";
    // It may ask for writes, but each goes through the policy and approval gate on its own.
    const ANNOTATIONS: Annotations = Annotations {
        read_only: false,
        destructive: false,
        idempotent: false,
        open_world: true,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        Ok(serde_json::json!({ "table": params.table }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<Report, ToolError> {
        let diagnoser = self
            .diagnoser
            .get()
            .ok_or_else(|| ToolError::Failed("the diagnosis agent is not ready yet".into()))?;
        let human = Principal::human(ctx.user.clone(), ctx.groups.clone());
        let request = RunRequest {
            table: params.table,
            description: params.description,
            max_steps: params.max_steps,
            as_of: params.as_of,
        };
        diagnoser
            .start(&human, &request, &ToCaller(ctx))
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))
    }
}
