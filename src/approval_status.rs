//! `approval_status`: lets a client poll an approval request it received as
//! `pending_approval` — state, votes so far, who may still approve, and what to do next.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use crate::approvals::Approvals;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The approval id from a `pending_approval` result (e.g. "apr_0123456789abcdef").
    pub approval_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Output {
    pub approval_id: String,
    /// pending, approved, denied, expired, executing, executed or failed.
    pub state: String,
    pub tool: String,
    pub reason: String,
    pub approvers: Vec<String>,
    pub min_approvals: i32,
    pub approvals_given: usize,
    /// Who voted and how, in order.
    pub votes: Vec<VoteSummary>,
    pub expires_at: String,
    pub next_steps: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct VoteSummary {
    pub approver: String,
    pub approve: bool,
    pub comment: Option<String>,
}

pub struct ApprovalStatus {
    approvals: Approvals,
}

impl ApprovalStatus {
    pub fn new(approvals: Approvals) -> Self {
        Self { approvals }
    }
}

impl TypedTool for ApprovalStatus {
    type Params = Params;
    type Output = Output;
    const NAME: &'static str = "approval_status";
    const TITLE: &'static str = "Check an approval request";
    const DESCRIPTION: &'static str = "Show the state of an approval request returned as \
        `pending_approval`: pending, approved, denied, expired or executed, with the votes so \
        far. Once approved, call the original tool again with exactly the same arguments.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        Ok(serde_json::json!({ "approval_id": params.approval_id }))
    }

    async fn run(&self, _: &CallContext, params: Params) -> Result<Output, ToolError> {
        let request = self
            .approvals
            .get(&params.approval_id)
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        let next_steps = match request.state.as_str() {
            "pending" => format!(
                "waiting for {} more approval(s) from {}",
                (request.min_approvals as usize).saturating_sub(request.approvals_given()),
                request.approvers.join(", ")
            ),
            "approved" => format!(
                "approved: call {} again with exactly the same arguments to run it once",
                request.tool
            ),
            "executing" | "executed" => "already executed; a new run needs a new approval".into(),
            "failed" => format!(
                "executed and failed: {}",
                request.error.clone().unwrap_or_default()
            ),
            _ => "not approved; the action will not run".into(),
        };
        Ok(Output {
            approval_id: request.id.clone(),
            approvals_given: request.approvals_given(),
            votes: request
                .votes
                .iter()
                .map(|v| VoteSummary {
                    approver: v.approver.clone(),
                    approve: v.approve,
                    comment: v.comment.clone(),
                })
                .collect(),
            state: request.state,
            tool: request.tool,
            reason: request.reason,
            approvers: request.approvers,
            min_approvals: request.min_approvals,
            expires_at: request.expires_at,
            next_steps,
        })
    }
}
