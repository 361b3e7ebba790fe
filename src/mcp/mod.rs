//! The MCP server: exposes the tool registry to MCP clients over stdio and streamable HTTP
//! (rmcp). Tool failures a person can act on come back as tool errors (`isError: true`);
//! malformed requests, unknown tools and wrong argument types are protocol errors.

pub mod auth;
pub mod http;
pub mod prompts;
pub mod stdio;

use std::sync::Arc;

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, Implementation, InitializeResult, JsonObject, ListPromptsResult,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::{ElicitationError, ElicitationMode, RequestContext};
use rmcp::{ErrorData as McpError, RoleServer};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use steward_tools::tool::ProgressSink;
use steward_tools::{ToolError, ToolSpec};

use crate::agent::settings::AgentSettings;
use crate::pipeline::{CallError, Caller, Outcome, PendingApproval, Pipeline};
use crate::principal::{Channel, Principal};

/// What clients are told Steward is (MCP `instructions`).
pub const INSTRUCTIONS: &str = include_str!("../../prompts/server_instructions.md");

/// One MCP session's view of Steward.
#[derive(Clone)]
pub struct StewardServer {
    pipeline: Arc<Pipeline>,
    /// The human at the other end of stdio; HTTP sessions take theirs from the bearer token.
    local_human: Principal,
    /// For the `diagnose_anomaly` prompt (lineage, step budget).
    agent: AgentSettings,
}

/// The approval form shown through MCP elicitation.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ApprovalForm {
    /// approve runs the action exactly as shown; deny refuses it.
    pub decision: FormDecision,
    /// Optional note kept with your decision in the audit ledger.
    #[serde(default)]
    pub comment: Option<String>,
}

// Inline: elicitation forms allow only primitive properties, not `$ref`s.
#[derive(Debug, Deserialize, JsonSchema, PartialEq, Eq)]
#[schemars(inline)]
#[serde(rename_all = "lowercase")]
pub enum FormDecision {
    Approve,
    Deny,
}

/// Shown when others must approve: nothing to fill in, it only says who. Forms must list
/// `properties`, even when there are none.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(extend("properties" = {}))]
pub struct PendingNotice {}

rmcp::elicit_safe!(ApprovalForm, PendingNotice);

impl StewardServer {
    pub fn new(pipeline: Arc<Pipeline>, local_human: Principal, agent: AgentSettings) -> Self {
        Self {
            pipeline,
            local_human,
            agent,
        }
    }

    /// A call over MCP is made by the client's model for the connected human: the principal
    /// is an agent acting on that human's behalf.
    fn caller(&self, context: &RequestContext<RoleServer>) -> (Caller, Principal) {
        let from_http = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>());
        let (human, channel) = match from_http {
            Some(principal) => (principal.clone(), Channel::McpHttp),
            None => (self.local_human.clone(), Channel::McpStdio),
        };
        // Per request: 2026-07-28 sessions carry clientInfo in each request's _meta.
        let client = context
            .client_info()
            .map(|info| info.name)
            .unwrap_or_else(|| "unknown-client".into());
        let agent =
            Principal::agent_for(format!("{}{client}", crate::config::AGENT_PREFIX), &human);
        let mut caller = Caller::new(agent, channel);
        // MCP cancellation reaches the tool and its backend.
        caller.cancel = context.ct.clone();
        (caller, human)
    }

    /// Asks the connected human through elicitation when they may approve; returns the
    /// executed result, a denial, or the request still pending.
    async fn ask_human(
        &self,
        context: &RequestContext<RoleServer>,
        caller: &Caller,
        human: &Principal,
        tool: &str,
        arguments: Value,
        pending: PendingApproval,
    ) -> Result<Outcome, CallError> {
        let supports_form = context
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form);
        if !supports_form {
            return Ok(Outcome::PendingApproval(pending));
        }
        let request = self.pipeline.approvals().get(&pending.approval_id).await?;
        if let Err(why) = request.check_approver(human) {
            // Others must decide: say who, and leave the request pending.
            let notice = format!(
                "{tool} needs approval from {needed} of {approvers} ({why}). Request {id} stays \
                 pending until {expires}; approvers run `steward approvals approve {id} --as <id>`.",
                needed = request.min_approvals,
                approvers = request.approvers.join(", "),
                id = request.id,
                expires = request.expires_at,
            );
            if let Err(e) = context.peer.elicit::<PendingNotice>(notice).await {
                tracing::debug!(error = %e, "pending notice not shown");
            }
            return Ok(Outcome::PendingApproval(pending));
        }
        let message = format!(
            "{agent} wants to run {tool} on your behalf.\n\nAction:\n{action}\n\nPolicy: {reason}\n\
             Approvals needed: {needed} from {approvers}. Expires at {expires}.",
            agent = caller.principal.id,
            action = serde_json::to_string_pretty(&request.action).unwrap_or_default(),
            reason = request.reason,
            needed = request.min_approvals,
            approvers = request.approvers.join(", "),
            expires = request.expires_at,
        );
        let answer = context.peer.elicit::<ApprovalForm>(message).await;
        let (approve, comment) = match answer {
            Ok(Some(form)) => (form.decision == FormDecision::Approve, form.comment),
            Ok(None) => (false, Some("no answer".into())),
            Err(ElicitationError::UserDeclined) => {
                (false, Some("declined in the MCP client".into()))
            }
            Err(ElicitationError::UserCancelled) => {
                (false, Some("cancelled in the MCP client".into()))
            }
            Err(e) => {
                tracing::warn!(error = %e, "elicitation failed; the request stays pending");
                return Ok(Outcome::PendingApproval(pending));
            }
        };
        let decided = self
            .pipeline
            .vote(
                &request.id,
                human,
                approve,
                comment.as_deref(),
                "mcp-elicitation",
            )
            .await?;
        match decided.state.as_str() {
            "approved" => self
                .pipeline
                .execute_approved(caller, &decided.id, tool, arguments)
                .await
                .map(Outcome::Completed),
            "denied" => Err(CallError::Denied {
                reason: format!(
                    "{} denied approval {}{}",
                    human.id,
                    decided.id,
                    comment.map(|c| format!(": {c}")).unwrap_or_default()
                ),
            }),
            _ => Ok(Outcome::PendingApproval(PendingApproval::from_request(
                &decided,
            ))),
        }
    }
}

/// The MCP description of one tool.
pub fn mcp_tool(spec: &ToolSpec) -> Tool {
    let annotations = ToolAnnotations::with_title(spec.title)
        .read_only(spec.annotations.read_only)
        .destructive(spec.annotations.destructive)
        .idempotent(spec.annotations.idempotent)
        .open_world(spec.annotations.open_world);
    Tool::new(
        spec.name,
        spec.description,
        Arc::new(spec.input_schema.clone()),
    )
    .with_title(spec.title)
    .with_raw_output_schema(Arc::new(output_schema(spec)))
    .with_annotations(annotations)
}

impl ServerHandler for StewardServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_prompts()
                .build(),
        )
        .with_server_info(
            Implementation::new("steward", env!("CARGO_PKG_VERSION"))
                .with_title("Steward — data platform operations"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.pipeline.specs().map(mcp_tool).collect(),
        ))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(prompts::list())
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        prompts::get(request, &self.agent).map(Into::into)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.pipeline.spec(name).map(mcp_tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (mut caller, human) = self.caller(&context);
        if let Some(token) = context.meta.get_progress_token() {
            caller.progress = Some(progress_sink(context.peer.clone(), token));
        }
        let arguments = request
            .arguments
            .map(Value::Object)
            .unwrap_or_else(|| Value::Object(JsonObject::new()));
        let mut outcome = self
            .pipeline
            .call(&caller, &request.name, arguments.clone())
            .await;
        if let Ok(Outcome::PendingApproval(pending)) = outcome {
            outcome = self
                .ask_human(&context, &caller, &human, &request.name, arguments, pending)
                .await;
        }
        match outcome {
            Ok(Outcome::Completed(value)) => Ok(structured(value).into()),
            Ok(Outcome::PendingApproval(pending)) => {
                let value = serde_json::to_value(&pending).unwrap_or_default();
                Ok(structured(value).into())
            }
            Err(e @ CallError::UnknownTool { .. }) => {
                Err(McpError::invalid_params(e.to_string(), None))
            }
            Err(CallError::Tool(e @ ToolError::InvalidParams { .. })) => {
                Err(McpError::invalid_params(e.to_string(), None))
            }
            Err(e @ CallError::Audit(_)) => Err(McpError::internal_error(e.to_string(), None)),
            Err(e) => Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into()),
        }
    }
}

/// Forwards a tool's progress lines as `notifications/progress`, in order, numbered from 1.
fn progress_sink(peer: rmcp::Peer<RoleServer>, token: rmcp::model::ProgressToken) -> ProgressSink {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        let mut step = 0u32;
        while let Some(message) = rx.recv().await {
            step += 1;
            let param = ProgressNotificationParam::new(token.clone(), f64::from(step))
                .with_message(message);
            if peer.notify_progress(param).await.is_err() {
                break;
            }
        }
    });
    ProgressSink(Arc::new(move |message| {
        let _ = tx.send(message);
    }))
}

/// A result carrying `value` as structured content and as pretty JSON text.
fn structured(value: Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
    let mut result = CallToolResult::structured(value);
    result.content = vec![ContentBlock::text(text)];
    result
}

/// Tools that may need approval answer either with their output or with `pending_approval`;
/// their advertised output schema says so (definitions hoisted to the root for `$ref`s).
fn output_schema(spec: &ToolSpec) -> JsonObject {
    if spec.annotations.read_only {
        return spec.output_schema.clone();
    }
    let pending = schemars::generate::SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<PendingApproval>()
        .to_value();
    let mut root = JsonObject::new();
    let mut defs = JsonObject::new();
    let mut branches = Vec::new();
    for schema in [Value::Object(spec.output_schema.clone()), pending] {
        let Value::Object(mut schema) = schema else {
            continue;
        };
        if let Some(Value::Object(found)) = schema.remove("$defs") {
            defs.extend(found);
        }
        schema.remove("$schema");
        branches.push(Value::Object(schema));
    }
    root.insert("type".into(), Value::String("object".into()));
    root.insert("anyOf".into(), Value::Array(branches));
    if !defs.is_empty() {
        root.insert("$defs".into(), Value::Object(defs));
    }
    root
}
