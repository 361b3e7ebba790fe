//! The one path to a side effect, shared by MCP, CLI and (later) the agent: a tool describes its
//! action as facts -> policy decides -> gate (allow | approval bound to the exact action | deny)
//! -> execute -> audit. Unknown tools and tools that cannot describe their action are denied.

use std::sync::Arc;
use std::time::Instant;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use steward_tools::tool::ProgressSink;
use steward_tools::{CallContext, Tool, ToolError, ToolSpec};
use tokio_util::sync::CancellationToken;

use crate::approvals::{ApprovalError, ApprovalRequest, Approvals, Requirement, action_hash};
use crate::audit::{AuditError, AuditEvent, AuditLedger};
use crate::policy::{Decision, Effect, PolicyEngine};
use crate::principal::{Channel, Principal};

/// Who is calling, through which door, and how they can give up.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub channel: Channel,
    pub cancel: CancellationToken,
    /// Where long-running tools report progress (set by the MCP server for a progress token).
    pub progress: Option<ProgressSink>,
}

impl Caller {
    pub fn new(principal: Principal, channel: Channel) -> Self {
        Self {
            principal,
            channel,
            cancel: CancellationToken::new(),
            progress: None,
        }
    }

    /// What tools and backends see: they act for the human behind the call.
    pub fn context(&self) -> CallContext {
        CallContext {
            user: self
                .principal
                .on_behalf_of
                .clone()
                .unwrap_or_else(|| self.principal.id.clone()),
            groups: self.principal.groups.clone(),
            cancel: self.cancel.clone(),
            progress: self.progress.clone(),
        }
    }
}

/// A call that waits for people: returned instead of a result, never as an error.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct PendingApproval {
    /// Always "pending_approval".
    pub status: String,
    pub approval_id: String,
    /// Why the policy wants approval.
    pub reason: String,
    /// Who may approve: "group:<name>" or "user:<id>".
    pub approvers: Vec<String>,
    pub min_approvals: i32,
    pub approvals_given: usize,
    pub expires_at: String,
    /// What to do next, for the person reading the result.
    pub next_steps: String,
}

impl PendingApproval {
    pub fn from_request(request: &ApprovalRequest) -> Self {
        Self {
            status: "pending_approval".into(),
            approval_id: request.id.clone(),
            reason: request.reason.clone(),
            approvers: request.approvers.clone(),
            min_approvals: request.min_approvals,
            approvals_given: request.approvals_given(),
            expires_at: request.expires_at.clone(),
            next_steps: format!(
                "An approver runs `steward approvals approve {id} --as <their id>` (or denies \
                 it). Poll with the approval_status tool; once approved, call {tool} again \
                 with exactly the same arguments to run it (once).",
                id = request.id,
                tool = request.tool
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Completed(Value),
    PendingApproval(PendingApproval),
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool {name:?}; available tools: {}", available.join(", "))]
    UnknownTool {
        name: String,
        available: Vec<String>,
    },
    #[error("denied by policy: {reason}")]
    Denied { reason: String },
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    /// Nothing runs when its record cannot be written.
    #[error(transparent)]
    Audit(#[from] AuditError),
}

pub struct Pipeline {
    tools: Vec<Arc<dyn Tool>>,
    policy: PolicyEngine,
    approvals: Approvals,
    audit: AuditLedger,
    environment: String,
}

impl Pipeline {
    pub fn new(
        tools: Vec<Arc<dyn Tool>>,
        policy: PolicyEngine,
        approvals: Approvals,
        audit: AuditLedger,
        environment: String,
    ) -> Self {
        Self {
            tools,
            policy,
            approvals,
            audit,
            environment,
        }
    }

    pub fn specs(&self) -> impl Iterator<Item = &ToolSpec> {
        self.tools.iter().map(|t| t.spec())
    }

    pub fn spec(&self, name: &str) -> Option<&ToolSpec> {
        self.specs().find(|s| s.name == name)
    }

    pub fn approvals(&self) -> &Approvals {
        &self.approvals
    }

    pub fn audit(&self) -> &AuditLedger {
        &self.audit
    }

    /// The policy input document for one call.
    pub fn policy_input(&self, caller: &Caller, spec: &ToolSpec, action: &Value) -> Value {
        json!({
            "principal": {
                "id": caller.principal.id,
                "groups": caller.principal.groups,
                "kind": caller.principal.kind.as_str(),
                "on_behalf_of": caller.principal.on_behalf_of,
            },
            "tool": spec.name,
            "annotations": spec.annotations,
            "action": action,
            "environment": self.environment,
            "channel": caller.channel.as_str(),
        })
    }

    /// Runs one call through describe -> policy -> gate -> execute -> audit.
    pub async fn call(
        &self,
        caller: &Caller,
        name: &str,
        arguments: Value,
    ) -> Result<Outcome, CallError> {
        let started = Instant::now();
        let decided = self
            .describe_and_decide(caller, name, &arguments, started)
            .await?;
        let Decided {
            tool,
            action,
            decision,
            mut record,
        } = decided;
        match decision.effect {
            Effect::Deny => {
                let error = CallError::Denied {
                    reason: decision.reason.clone(),
                };
                self.fail(record.outcome("denied"), started, error).await
            }
            Effect::Allow => self
                .run(caller, tool.as_ref(), arguments, record, started)
                .await
                .map(Outcome::Completed),
            Effect::RequireApproval => {
                let requirement = requirement(&decision);
                let (request, created) = self
                    .approvals
                    .open_or_create(
                        name,
                        &arguments,
                        &action,
                        &caller.principal,
                        caller.channel,
                        &requirement,
                    )
                    .await?;
                record.approval_id = Some(request.id.clone());
                match request.state.as_str() {
                    "approved" => {
                        let hash =
                            action_hash(name, &arguments, &caller.principal, &action, &requirement);
                        self.execute_claimed(
                            caller,
                            tool.as_ref(),
                            &request.id,
                            &hash,
                            arguments,
                            record,
                            started,
                        )
                        .await
                        .map(Outcome::Completed)
                    }
                    "pending" => {
                        if created {
                            record.event = "approval_requested";
                        }
                        self.audit
                            .append(record.outcome("pending_approval").finish(started))
                            .await?;
                        Ok(Outcome::PendingApproval(PendingApproval::from_request(
                            &request,
                        )))
                    }
                    state => {
                        let error = CallError::Approval(ApprovalError::NotApproved {
                            id: request.id.clone(),
                            state: state.to_string(),
                        });
                        self.fail(record.outcome("refused"), started, error).await
                    }
                }
            }
        }
    }

    /// Executes an approved request for exactly this caller and these arguments, once. The
    /// call is described and decided again: if what it resolves to, or what the policy asks
    /// for, changed since the approval, it no longer matches.
    pub async fn execute_approved(
        &self,
        caller: &Caller,
        approval_id: &str,
        name: &str,
        arguments: Value,
    ) -> Result<Value, CallError> {
        let started = Instant::now();
        let Decided {
            tool,
            action,
            decision,
            record,
        } = self
            .describe_and_decide(caller, name, &arguments, started)
            .await?;
        if decision.effect == Effect::Deny {
            let error = CallError::Denied {
                reason: decision.reason.clone(),
            };
            return self.fail(record.outcome("denied"), started, error).await;
        }
        let hash = action_hash(
            name,
            &arguments,
            &caller.principal,
            &action,
            &requirement(&decision),
        );
        self.execute_claimed(
            caller,
            tool.as_ref(),
            approval_id,
            &hash,
            arguments,
            record,
            started,
        )
        .await
    }

    /// Finds the tool, asks it what it would do, and asks the policy; failures are audited.
    async fn describe_and_decide(
        &self,
        caller: &Caller,
        name: &str,
        arguments: &Value,
        started: Instant,
    ) -> Result<Decided, CallError> {
        let mut record = Record::new(caller, name, arguments);
        let Some(tool) = self.tools.iter().find(|t| t.spec().name == name).cloned() else {
            let error = CallError::UnknownTool {
                name: name.to_string(),
                available: self.specs().map(|s| s.name.to_string()).collect(),
            };
            return self
                .fail(record.outcome("unknown_tool"), started, error)
                .await;
        };
        let action = match tool.describe(&caller.context(), arguments).await {
            Ok(Some(action)) => action,
            Ok(None) => {
                let error = CallError::Denied {
                    reason: format!("tool {name} does not describe its action"),
                };
                return self.fail(record.outcome("denied"), started, error).await;
            }
            Err(e) => {
                let outcome = tool_error_outcome(&e);
                return self.fail(record.outcome(outcome), started, e.into()).await;
            }
        };
        record.action = Some(action.clone());
        let decision = self
            .policy
            .decide(&self.policy_input(caller, tool.spec(), &action));
        record.decision = serde_json::to_value(&decision).ok();
        Ok(Decided {
            tool,
            action,
            decision,
            record,
        })
    }

    /// Records one person's vote (CLI, elicitation, later Slack) in the ledger too.
    pub async fn vote(
        &self,
        approval_id: &str,
        person: &Principal,
        approve: bool,
        comment: Option<&str>,
        channel: &str,
    ) -> Result<ApprovalRequest, CallError> {
        let started = Instant::now();
        let result = self
            .approvals
            .vote(approval_id, person, approve, comment, channel)
            .await;
        let mut event = AuditEvent {
            event: "approval_decided".into(),
            principal: person.id.clone(),
            principal_kind: person.kind.as_str().into(),
            on_behalf_of: person.on_behalf_of.clone(),
            channel: channel.into(),
            tool: String::new(),
            arguments: json!({ "approve": approve, "comment": comment }),
            action: None,
            decision: None,
            approval_id: Some(approval_id.to_string()),
            outcome: if approve { "approve" } else { "deny" }.into(),
            error: None,
            duration_ms: started.elapsed().as_millis() as i64,
        };
        match result {
            Ok(request) => {
                event.tool = request.tool.clone();
                event.action = Some(json!({ "state": request.state }));
                self.audit.append(event).await?;
                Ok(request)
            }
            Err(e) => {
                if let Ok(request) = self.approvals.get(approval_id).await {
                    event.tool = request.tool;
                }
                event.outcome = "rejected".into();
                event.error = Some(e.to_string());
                self.audit.append(event).await?;
                Err(e.into())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn execute_claimed(
        &self,
        caller: &Caller,
        tool: &dyn Tool,
        approval_id: &str,
        hash: &str,
        arguments: Value,
        mut record: Record,
        started: Instant,
    ) -> Result<Value, CallError> {
        record.approval_id = Some(approval_id.to_string());
        record.event = "approval_executed";
        if let Err(e) = self.approvals.claim(approval_id, hash).await {
            return self
                .fail(record.outcome("refused"), started, e.into())
                .await;
        }
        // On the ledger before anything runs: a crash mid-run still leaves a trace.
        let mut claimed = record.clone();
        claimed.event = "approval_claimed";
        self.audit
            .append(claimed.outcome("executing").finish(started))
            .await?;
        let result = tool.call(&caller.context(), arguments).await;
        let error = result.as_ref().err().map(ToString::to_string);
        if let Err(e) = self.approvals.finish(approval_id, error.as_deref()).await {
            // The action ran (or failed) either way; the ledger row below says which.
            tracing::error!(approval = approval_id, error = %e, "could not record how an approval ended");
        }
        self.record_result(result, record, started).await
    }

    async fn run(
        &self,
        caller: &Caller,
        tool: &dyn Tool,
        arguments: Value,
        record: Record,
        started: Instant,
    ) -> Result<Value, CallError> {
        let result = tool.call(&caller.context(), arguments).await;
        self.record_result(result, record, started).await
    }

    /// Audits a finished tool call; its result is only returned once the record is written.
    async fn record_result(
        &self,
        result: Result<Value, ToolError>,
        record: Record,
        started: Instant,
    ) -> Result<Value, CallError> {
        match result {
            Ok(value) => {
                self.audit
                    .append(record.outcome("ok").finish(started))
                    .await?;
                Ok(value)
            }
            Err(e) => {
                let outcome = tool_error_outcome(&e);
                self.fail(record.outcome(outcome), started, e.into()).await
            }
        }
    }

    async fn fail<T>(
        &self,
        record: Record,
        started: Instant,
        error: CallError,
    ) -> Result<T, CallError> {
        let mut event = record.finish(started);
        event.error = Some(error.to_string());
        self.audit.append(event).await?;
        Err(error)
    }
}

fn tool_error_outcome(error: &ToolError) -> &'static str {
    match error {
        ToolError::InvalidParams { .. } => "invalid_params",
        ToolError::Refused(_) => "refused",
        ToolError::Failed(_) => "failed",
    }
}

fn requirement(decision: &Decision) -> Requirement {
    Requirement {
        reason: decision.reason.clone(),
        approvers: decision.approvers.clone(),
        min_approvals: decision.min_approvals,
        ttl_seconds: decision.ttl_seconds,
        independent_approvers: decision.independent_approvers,
    }
}

/// A call that has been described and decided, not yet run.
struct Decided {
    tool: Arc<dyn Tool>,
    action: Value,
    decision: Decision,
    record: Record,
}

/// The audit row being built for one call.
#[derive(Clone)]
struct Record {
    event: &'static str,
    caller: Caller,
    tool: String,
    arguments: Value,
    action: Option<Value>,
    decision: Option<Value>,
    approval_id: Option<String>,
    outcome: &'static str,
}

impl Record {
    fn new(caller: &Caller, tool: &str, arguments: &Value) -> Self {
        Self {
            event: "tool_call",
            caller: caller.clone(),
            tool: tool.to_string(),
            arguments: arguments.clone(),
            action: None,
            decision: None,
            approval_id: None,
            outcome: "ok",
        }
    }

    fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
    }

    fn finish(self, started: Instant) -> AuditEvent {
        AuditEvent {
            event: self.event.into(),
            principal: self.caller.principal.id,
            principal_kind: self.caller.principal.kind.as_str().into(),
            on_behalf_of: self.caller.principal.on_behalf_of,
            channel: self.caller.channel.as_str().into(),
            tool: self.tool,
            arguments: self.arguments,
            action: self.action,
            decision: self.decision,
            approval_id: self.approval_id,
            outcome: self.outcome.into(),
            error: None,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        }
    }
}
