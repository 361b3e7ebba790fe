//! The MCP server: exposes the tool registry to MCP clients over stdio and streamable HTTP
//! (rmcp). Tool failures a person can act on come back as tool errors (`isError: true`);
//! malformed requests, unknown tools and wrong argument types are protocol errors.

pub mod auth;
pub mod http;
pub mod stdio;

use std::sync::Arc;

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer};
use serde_json::Value;
use steward_tools::{ToolError, ToolSpec};

use crate::principal::{Channel, Principal};
use crate::registry::{CallError, ToolRegistry};

/// What clients are told Steward is (MCP `instructions`).
pub const INSTRUCTIONS: &str = include_str!("../../prompts/server_instructions.md");

/// One MCP session's view of Steward.
#[derive(Clone)]
pub struct StewardServer {
    registry: Arc<ToolRegistry>,
    /// Caller for stdio sessions; HTTP sessions take theirs from the bearer token.
    local_principal: Principal,
}

impl StewardServer {
    pub fn new(registry: Arc<ToolRegistry>, local_principal: Principal) -> Self {
        Self {
            registry,
            local_principal,
        }
    }

    fn caller(&self, context: &RequestContext<RoleServer>) -> (Principal, Channel) {
        let from_http = context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>());
        match from_http {
            Some(principal) => (principal.clone(), Channel::McpHttp),
            None => (self.local_principal.clone(), Channel::McpStdio),
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
    .with_raw_output_schema(Arc::new(spec.output_schema.clone()))
    .with_annotations(annotations)
}

impl ServerHandler for StewardServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
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
            self.registry.specs().map(mcp_tool).collect(),
        ))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.registry.spec(name).map(mcp_tool)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (principal, channel) = self.caller(&context);
        let arguments = request
            .arguments
            .map(Value::Object)
            .unwrap_or_else(|| Value::Object(JsonObject::new()));
        let result = self
            .registry
            .call(&principal, channel, &request.name, arguments)
            .await;
        match result {
            Ok(value) => {
                let text =
                    serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
                let mut result = CallToolResult::structured(value);
                result.content = vec![ContentBlock::text(text)];
                Ok(result.into())
            }
            Err(e @ CallError::UnknownTool { .. }) => {
                Err(McpError::invalid_params(e.to_string(), None))
            }
            Err(CallError::Tool(e @ ToolError::InvalidParams { .. })) => {
                Err(McpError::invalid_params(e.to_string(), None))
            }
            Err(CallError::Tool(e @ (ToolError::Refused(_) | ToolError::Failed(_)))) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(e.to_string())]).into())
            }
        }
    }
}
