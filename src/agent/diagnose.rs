//! The diagnosis loop: model -> tool_use -> pipeline (policy, approval gate, execute, audit) ->
//! tool_result -> model, until the model ends its turn or a budget (steps, tokens, USD, wall
//! clock) runs out. Runs persist after every turn and step, so `--resume` continues a killed run
//! without repeating a side effect; without a usable model the deterministic runbook runs.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::claude::{
    Claude, ClaudeError, ContentBlock, InputMessage, MessageRequest, Role, StopReason,
    ToolDefinition, ToolResult, ToolUse, cost_usd,
};
use super::prompts::diagnosis_system;
use super::report::{ApprovalItem, EvidenceItem, Report};
use super::runbook;
use super::runs::{Run, RunError, RunState, RunStore};
use super::settings::AgentSettings;
use super::untrusted::wrap_tool_output;
use crate::approvals::ApprovalError;
use crate::pipeline::{CallError, Caller, Outcome, Pipeline};
use crate::principal::{Channel, Principal};

/// The agent's principal; it always acts for the person who started the run.
pub const AGENT_ID: &str = "mcp:steward-diagnose";
/// Longest anomaly description kept; longer ones are cut (and the report says so).
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;

#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    #[error(
        "the anomaly description is empty: say what looks wrong, e.g. \"row count of \
         gold.orders dropped 60% since yesterday\""
    )]
    EmptyDescription,
    #[error("the table is empty: name the table the anomaly is in (schema.table)")]
    EmptyTable,
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("the model client could not be built: {0}")]
    Client(String),
    #[error("prompt template error: {0}")]
    Prompt(String),
    #[error("writing the audit ledger failed, so the run stopped: {0}")]
    Audit(String),
    #[error("Steward is shutting down; resume the run later with `steward diagnose --resume`")]
    ShuttingDown,
}

/// Receives one line per step (the CLI prints them to stderr).
pub trait Progress: Send + Sync {
    fn line(&self, text: &str);
}

/// Progress printed on stderr, each line after `indent` (the CLI's).
pub struct StderrProgress {
    pub indent: &'static str,
}

impl Progress for StderrProgress {
    fn line(&self, text: &str) {
        eprintln!("{}{text}", self.indent);
    }
}

/// Progress that goes nowhere.
pub struct Silent;

impl Progress for Silent {
    fn line(&self, _: &str) {}
}

/// What to diagnose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunRequest {
    /// The table the anomaly is in (`schema.table`).
    pub table: String,
    /// What looks wrong, in the words of whoever reported it.
    pub description: String,
    /// Most tool rounds (the configured `max_steps` when absent).
    pub max_steps: Option<u32>,
    /// Evaluate checks as of this instant (RFC 3339 or a date); now when absent.
    pub as_of: Option<String>,
}

/// Starts and resumes diagnosis runs.
#[derive(Clone)]
pub struct Diagnoser {
    /// Weak: the pipeline's `diagnose_anomaly` tool holds this diagnoser, and a strong
    /// reference both ways would keep every pool of a dropped app open.
    pipeline: Weak<Pipeline>,
    settings: AgentSettings,
    runs: RunStore,
    claude: Option<Claude>,
    check_tables: Vec<String>,
}

impl Diagnoser {
    /// `claude` is the client built from `settings` (`None`: no API key, the runbook runs).
    pub fn new(
        pipeline: Arc<Pipeline>,
        settings: AgentSettings,
        claude: Option<Claude>,
        runs: RunStore,
        check_tables: Vec<String>,
    ) -> Self {
        Self {
            pipeline: Arc::downgrade(&pipeline),
            settings,
            runs,
            claude,
            check_tables,
        }
    }

    /// Starts a run for `human` and drives it as far as it goes.
    pub async fn start(
        &self,
        human: &Principal,
        request: &RunRequest,
        progress: &dyn Progress,
    ) -> Result<Report, DiagnoseError> {
        let max_steps = request.max_steps;
        let table = request.table.trim();
        if table.is_empty() {
            return Err(DiagnoseError::EmptyTable);
        }
        let description = request.description.trim();
        if description.is_empty() {
            return Err(DiagnoseError::EmptyDescription);
        }
        let mut notes = Vec::new();
        let description: String = if description.chars().count() > MAX_DESCRIPTION_CHARS {
            notes.push(format!(
                "the description was cut from {} to {MAX_DESCRIPTION_CHARS} characters",
                description.chars().count()
            ));
            description.chars().take(MAX_DESCRIPTION_CHARS).collect()
        } else {
            description.to_string()
        };
        let path = if self.claude.is_some() {
            "claude"
        } else {
            notes.push(format!(
                "no API key in {}: the deterministic runbook ran instead of a language model",
                self.settings.api_key_env
            ));
            "runbook"
        };
        let note = (!notes.is_empty()).then(|| notes.join("; "));
        let first = InputMessage::user(format!(
            "Diagnose this data-quality anomaly in `{table}`: {description}"
        ));
        let run = self
            .runs
            .create(
                table,
                &description,
                human,
                path,
                note.as_deref(),
                request.as_of.as_deref(),
                first,
            )
            .await?;
        progress.line(&format!("run {}: diagnosing {table} ({path})", run.id));
        self.drive(run, max_steps, progress).await
    }

    /// Continues a stored run (killed, or left waiting for an approval).
    pub async fn resume(&self, id: &str, progress: &dyn Progress) -> Result<Report, DiagnoseError> {
        let run = self.runs.load(id).await?;
        if run.state.is_final() {
            progress.line(&format!("run {id} already ended ({})", run.state.as_str()));
            return self.report(&run).await;
        }
        progress.line(&format!("run {id}: resuming after {} step(s)", run.steps));
        self.drive(run, None, progress).await
    }

    async fn drive(
        &self,
        mut run: Run,
        max_steps: Option<u32>,
        progress: &dyn Progress,
    ) -> Result<Report, DiagnoseError> {
        let caller = Caller::new(
            Principal::agent_for(
                AGENT_ID,
                &Principal::human(&run.principal, run.groups.clone()),
            ),
            Channel::Agent,
        );
        let deadline = Instant::now() + self.settings.deadline;
        if run.path == "runbook" {
            runbook::run(&caller, &mut run, self, progress).await?;
        } else {
            self.model_loop(&caller, &mut run, max_steps, deadline, progress)
                .await?;
        }
        self.report(&run).await
    }

    /// The tool-calling loop on Claude; falls back to the runbook when no model answers.
    async fn model_loop(
        &self,
        caller: &Caller,
        run: &mut Run,
        max_steps: Option<u32>,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<(), DiagnoseError> {
        let Some(claude) = &self.claude else {
            return runbook::run(caller, run, self, progress).await;
        };
        let max_steps = max_steps.unwrap_or(self.settings.max_steps).max(1) as i32;
        // One request for the whole run: each turn lends it the conversation.
        let mut request = MessageRequest::new(self.settings.max_tokens)
            .system(self.system_prompt(run, max_steps)?);
        request.tools = self
            .pipeline()?
            .specs()
            .map(|spec| {
                ToolDefinition::new(
                    spec.name,
                    spec.description,
                    Value::Object(spec.input_schema.clone()),
                )
            })
            .collect();
        loop {
            // A turn whose tool calls have no results yet (killed mid-step, or waiting).
            if let Some(last) = run.messages.last()
                && last.role == Role::Assistant
            {
                let uses: Vec<ToolUse> = last
                    .content
                    .iter()
                    .filter_map(|b| match b {
                        ContentBlock::ToolUse(u) => Some(u.clone()),
                        _ => None,
                    })
                    .collect();
                if uses.is_empty() {
                    run.state = RunState::Completed;
                    self.runs.save(run).await?;
                    return Ok(());
                }
                let mut results = Vec::with_capacity(uses.len());
                for tool_use in &uses {
                    match self.step(caller, run, tool_use, deadline, progress).await? {
                        Some(result) => results.push(result),
                        None => {
                            run.state = RunState::WaitingApproval;
                            self.runs.save(run).await?;
                            progress.line(&format!(
                                "run {} is waiting for an approval; resume with `steward \
                                 diagnose --resume {}`",
                                run.id, run.id
                            ));
                            return Ok(());
                        }
                    }
                }
                run.messages.push(InputMessage::tool_results(results));
                run.steps += 1;
                run.state = RunState::Running;
                self.runs.save(run).await?;
            }
            if let Some(reason) = self.budget_exhausted(run, max_steps, deadline) {
                progress.line(&format!("budget exhausted: {reason}"));
                run.state = RunState::BudgetExhausted;
                append_note(run, &format!("stopped: {reason}"));
                self.runs.save(run).await?;
                return Ok(());
            }
            let started = Instant::now();
            let remaining = deadline.saturating_duration_since(Instant::now());
            request.messages = std::mem::take(&mut run.messages);
            let sent = tokio::time::timeout(remaining, claude.send(&request)).await;
            run.messages = std::mem::take(&mut request.messages);
            let response = match sent {
                Ok(Ok(response)) => response,
                Ok(Err(error)) => return self.fall_back(caller, run, &error, progress).await,
                Err(_) => {
                    run.state = RunState::BudgetExhausted;
                    append_note(
                        run,
                        "stopped: wall-clock deadline reached waiting for the model",
                    );
                    self.runs.save(run).await?;
                    return Ok(());
                }
            };
            let attempts = response.attempts.len();
            run.attempts.extend(
                response
                    .attempts
                    .iter()
                    .filter_map(|a| serde_json::to_value(a).ok()),
            );
            if response.model != self.settings.models[0] {
                append_note(
                    run,
                    &format!(
                        "answered by fallback model {} ({})",
                        response.model,
                        response.summary()
                    ),
                );
            }
            run.model = Some(response.model.clone());
            let usage = response.message.usage;
            run.usage.add(&usage);
            run.cost_usd += cost_usd(&usage, &self.settings.price(&response.model));
            progress.line(&format!(
                "model {} answered in {} ms ({} attempt(s), {} in / {} out tokens, stop: {:?})",
                response.model,
                started.elapsed().as_millis(),
                attempts,
                usage.input_tokens,
                usage.output_tokens,
                response.message.stop_reason
            ));
            let message = response.message;
            match message.stop_reason.clone() {
                Some(StopReason::ToolUse) | Some(StopReason::PauseTurn) => {
                    run.messages.push(message.to_assistant_turn());
                    self.runs.save(run).await?;
                }
                Some(StopReason::MaxTokens) => {
                    let turn = message.to_assistant_turn();
                    let has_tools = !message.tool_uses().is_empty();
                    run.messages.push(turn);
                    if !has_tools {
                        run.messages.push(InputMessage::user(
                            "Your reply was cut at the token limit. Continue, more concisely.",
                        ));
                        run.steps += 1;
                    }
                    self.runs.save(run).await?;
                }
                Some(StopReason::Refusal) => {
                    let error = format!("the model refused: {}", message.text());
                    append_note(run, &error);
                    run.path = "runbook".into();
                    self.runs.save(run).await?;
                    return runbook::run(caller, run, self, progress).await;
                }
                _ => {
                    run.messages.push(message.to_assistant_turn());
                    run.report = Some(json!({ "body": message.text() }));
                    run.state = RunState::Completed;
                    self.runs.save(run).await?;
                    return Ok(());
                }
            }
        }
    }

    /// Which budget is spent, if any.
    fn budget_exhausted(&self, run: &Run, max_steps: i32, deadline: Instant) -> Option<String> {
        let tokens = run.usage.input_tokens + run.usage.output_tokens;
        if run.steps >= max_steps {
            Some(format!("reached the maximum of {max_steps} tool rounds"))
        } else if tokens >= self.settings.max_total_tokens {
            Some(format!(
                "used {tokens} tokens (limit {})",
                self.settings.max_total_tokens
            ))
        } else if run.cost_usd >= self.settings.max_cost_usd {
            Some(format!(
                "spent ${:.4} (limit ${:.2})",
                run.cost_usd, self.settings.max_cost_usd
            ))
        } else if Instant::now() >= deadline {
            Some(format!(
                "wall-clock deadline of {} s reached",
                self.settings.deadline.as_secs()
            ))
        } else {
            None
        }
    }

    async fn fall_back(
        &self,
        caller: &Caller,
        run: &mut Run,
        error: &ClaudeError,
        progress: &dyn Progress,
    ) -> Result<(), DiagnoseError> {
        progress.line(&format!("model unavailable: {error}; running the runbook"));
        append_note(run, &format!("model unavailable ({error})"));
        run.path = "runbook".into();
        self.runs.save(run).await?;
        runbook::run(caller, run, self, progress).await
    }

    /// Runs one tool_use through the pipeline at most once; `None` while it waits for people.
    async fn step(
        &self,
        caller: &Caller,
        run: &Run,
        tool_use: &ToolUse,
        deadline: Instant,
        progress: &dyn Progress,
    ) -> Result<Option<ToolResult>, DiagnoseError> {
        let stored = self.runs.step(&run.id, &tool_use.id).await?;
        if let Some(step) = &stored
            && step.state == "done"
        {
            let text = step.result.clone().unwrap_or_default();
            return Ok(Some(tool_result(
                &tool_use.id,
                text,
                step.is_error == Some(true),
            )));
        }
        let started = Instant::now();
        let outcome = self
            .execute(
                caller,
                run,
                tool_use,
                stored.and_then(|s| s.approval_id),
                deadline,
            )
            .await?;
        let Some((decision, text, is_error)) = outcome else {
            return Ok(None);
        };
        let elapsed = started.elapsed().as_millis() as i64;
        self.runs
            .finish_step(&run.id, &tool_use.id, &decision, &text, is_error, elapsed)
            .await?;
        progress.line(&format!(
            "step {}: {} ({elapsed} ms) {decision}{}",
            run.steps + 1,
            tool_use.name,
            if is_error { " -> error" } else { "" }
        ));
        Ok(Some(tool_result(&tool_use.id, text, is_error)))
    }

    /// `(decision, text for the model, is_error)`, or `None` when still waiting.
    async fn execute(
        &self,
        caller: &Caller,
        run: &Run,
        tool_use: &ToolUse,
        approval_id: Option<String>,
        deadline: Instant,
    ) -> Result<Option<(String, String, bool)>, DiagnoseError> {
        if !tool_use.input.is_object() {
            return Ok(Some((
                "error".into(),
                format!(
                    "invalid input for {}: tool input must be a JSON object, got {}",
                    tool_use.name, tool_use.input
                ),
                true,
            )));
        }
        // An approval asked for before a restart: its state says what already happened.
        if let Some(id) = &approval_id {
            let request = self.pipeline()?.approvals().get(id).await;
            match request.as_ref().map(|r| r.state.as_str()) {
                Ok("executed") => {
                    return Ok(Some((
                        "require_approval".into(),
                        format!(
                            "{} ran once after approval {id} (before a restart; its output was \
                             not recorded). Do not run it again.",
                            tool_use.name
                        ),
                        false,
                    )));
                }
                Ok("executing") | Ok("failed") => {
                    return Ok(Some((
                        "require_approval".into(),
                        format!(
                            "{} was executing under approval {id} when Steward stopped; its \
                             outcome is unknown and it will not be retried. Ask a person to check.",
                            tool_use.name
                        ),
                        true,
                    )));
                }
                _ => {}
            }
        }
        self.runs
            .start_step(
                &run.id,
                &tool_use.id,
                run.steps + 1,
                &tool_use.name,
                &tool_use.input,
            )
            .await?;
        let call = self
            .pipeline()?
            .call(caller, &tool_use.name, tool_use.input.clone())
            .await;
        let pending = match call {
            Ok(Outcome::Completed(value)) => {
                let wrapped =
                    wrap_tool_output(&tool_use.name, &value, self.settings.tool_output_max_bytes);
                let decision = if approval_id.is_some() {
                    "require_approval"
                } else {
                    "allow"
                };
                return Ok(Some((decision.into(), wrapped.text, false)));
            }
            Ok(Outcome::PendingApproval(pending)) => pending,
            Err(CallError::Audit(e)) => return Err(DiagnoseError::Audit(e.to_string())),
            Err(CallError::Denied { reason }) => {
                return Ok(Some((
                    "deny".into(),
                    format!("denied by policy: {reason}"),
                    true,
                )));
            }
            Err(CallError::Approval(ApprovalError::NotApproved { id, state })) => {
                return Ok(Some((
                    "require_approval".into(),
                    format!("approval {id} was {state}; {} did not run", tool_use.name),
                    true,
                )));
            }
            Err(other) => return Ok(Some(("error".into(), other.to_string(), true))),
        };
        self.runs
            .waiting_step(&run.id, &tool_use.id, &pending.approval_id)
            .await?;
        let remaining = deadline.saturating_duration_since(Instant::now());
        let decided = self
            .pipeline()?
            .approvals()
            .wait_decided(
                &pending.approval_id,
                remaining.max(Duration::from_millis(10)),
            )
            .await
            .map_err(|e| DiagnoseError::Client(e.to_string()))?;
        match decided.state.as_str() {
            "pending" => Ok(None),
            "approved" => {
                Box::pin(self.execute(caller, run, tool_use, Some(pending.approval_id), deadline))
                    .await
            }
            state => {
                let why = decided
                    .votes
                    .iter()
                    .filter(|v| !v.approve)
                    .map(|v| format!("{}: {}", v.approver, v.comment.clone().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok(Some((
                    "require_approval".into(),
                    format!(
                        "a person {state} this action (approval {}){}; it did not run. Do not \
                         retry it in another form.",
                        decided.id,
                        if why.is_empty() {
                            String::new()
                        } else {
                            format!(": {why}")
                        }
                    ),
                    true,
                )))
            }
        }
    }

    fn system_prompt(&self, run: &Run, max_steps: i32) -> Result<String, DiagnoseError> {
        diagnosis_system(
            &run.table,
            &run.description,
            &self.upstream(&run.table),
            max_steps as u32,
            run.as_of.as_deref(),
        )
        .map_err(DiagnoseError::Prompt)
    }

    pub(super) fn pipeline(&self) -> Result<Arc<Pipeline>, DiagnoseError> {
        self.pipeline.upgrade().ok_or(DiagnoseError::ShuttingDown)
    }

    /// The cap on each tool output shown to the model or written into a report.
    pub(super) fn tool_output_max_bytes(&self) -> usize {
        self.settings.tool_output_max_bytes
    }

    /// Upstream tables of `table` from config.
    pub fn upstream(&self, table: &str) -> Vec<String> {
        self.settings
            .lineage
            .get(table)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether any configured check covers `table`.
    pub fn has_checks(&self, table: &str) -> bool {
        self.check_tables
            .iter()
            .any(|t| t.eq_ignore_ascii_case(table))
    }

    pub fn runs(&self) -> &RunStore {
        &self.runs
    }

    /// The report of a run in any state, built from the stored run and steps.
    pub async fn report(&self, run: &Run) -> Result<Report, DiagnoseError> {
        let steps = self.runs.steps(&run.id).await?;
        let mut approvals = Vec::new();
        for step in &steps {
            if let Some(id) = &step.approval_id {
                let state = self
                    .pipeline()?
                    .approvals()
                    .get(id)
                    .await
                    .map(|r| r.state)
                    .unwrap_or_else(|_| "unknown".into());
                approvals.push(ApprovalItem {
                    approval_id: id.clone(),
                    tool: step.tool.clone(),
                    state,
                });
            }
        }
        let evidence = steps
            .iter()
            .map(|s| EvidenceItem {
                step: s.step,
                tool: s.tool.clone(),
                arguments: s.input.clone(),
                decision: s.decision.clone().unwrap_or_else(|| s.state.clone()),
                is_error: s.is_error == Some(true),
                excerpt: s
                    .result
                    .clone()
                    .unwrap_or_default()
                    .chars()
                    .take(600)
                    .collect(),
            })
            .collect();
        let body = run
            .report
            .as_ref()
            .and_then(|r| r["body"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| {
                "### Summary\nThe run did not finish; the evidence gathered so far is listed in \
                 the JSON report (`--json`)."
                    .into()
            });
        Ok(Report {
            run_id: run.id.clone(),
            table: run.table.clone(),
            description: run.description.clone(),
            status: run.state.as_str().into(),
            path: run.path.clone(),
            path_note: run.path_note.clone(),
            model: run.model.clone(),
            body,
            evidence,
            approvals,
            steps: run.steps,
            usage: run.usage.into(),
            cost_usd: run.cost_usd,
        })
    }
}

fn tool_result(id: &str, text: String, is_error: bool) -> ToolResult {
    if is_error {
        ToolResult::error(id, text)
    } else {
        ToolResult::ok(id, text)
    }
}

/// Adds to the run's path note ("; "-separated).
pub fn append_note(run: &mut Run, note: &str) {
    run.path_note = Some(match run.path_note.take() {
        Some(existing) => format!("{existing}; {note}"),
        None => note.to_string(),
    });
}
