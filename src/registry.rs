//! The tool registry every caller goes through (MCP over stdio or HTTP, CLI, later the agent):
//! looks tools up by name, runs them and records each call in `steward.tool_calls`.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use steward_tools::{Tool, ToolError, ToolSpec};

use crate::principal::{Channel, Principal};

/// Why a call produced no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool {name:?}; available tools: {}", available.join(", "))]
    UnknownTool {
        name: String,
        available: Vec<String>,
    },
    #[error(transparent)]
    Tool(#[from] ToolError),
}

pub struct ToolRegistry {
    tools: Vec<Arc<dyn Tool>>,
    storage: PgPool,
}

impl ToolRegistry {
    pub fn new(tools: Vec<Arc<dyn Tool>>, storage: PgPool) -> Self {
        Self { tools, storage }
    }

    pub fn specs(&self) -> impl Iterator<Item = &ToolSpec> {
        self.tools.iter().map(|t| t.spec())
    }

    pub fn spec(&self, name: &str) -> Option<&ToolSpec> {
        self.specs().find(|s| s.name == name)
    }

    /// Runs one tool call on behalf of `principal` and records it.
    pub async fn call(
        &self,
        principal: &Principal,
        channel: Channel,
        name: &str,
        arguments: Value,
    ) -> Result<Value, CallError> {
        let started = Instant::now();
        let arguments_sha256 = hex::encode(Sha256::digest(arguments.to_string().as_bytes()));
        let result = match self.tools.iter().find(|t| t.spec().name == name) {
            Some(tool) => tool.call(arguments).await.map_err(CallError::Tool),
            None => Err(CallError::UnknownTool {
                name: name.to_string(),
                available: self.specs().map(|s| s.name.to_string()).collect(),
            }),
        };
        let (outcome, error) = match &result {
            Ok(_) => ("ok", None),
            Err(CallError::UnknownTool { .. }) => ("unknown_tool", None),
            Err(CallError::Tool(e @ ToolError::InvalidParams { .. })) => {
                ("invalid_params", Some(e.to_string()))
            }
            Err(CallError::Tool(e @ ToolError::Refused(_))) => ("refused", Some(e.to_string())),
            Err(CallError::Tool(e @ ToolError::Failed(_))) => ("failed", Some(e.to_string())),
        };
        let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        tracing::info!(tool = name, principal = %principal, channel = channel.as_str(), outcome, duration_ms, "tool call");
        let recorded = sqlx::query(
            "INSERT INTO steward.tool_calls
               (channel, principal, tool, arguments_sha256, outcome, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(channel.as_str())
        .bind(&principal.id)
        .bind(name)
        .bind(&arguments_sha256)
        .bind(outcome)
        .bind(error)
        .bind(duration_ms)
        .execute(&self.storage)
        .await;
        if let Err(e) = recorded {
            tracing::warn!(error = %e, tool = name, "could not record the tool call");
        }
        result
    }
}
