//! MCP prompts: `diagnose_anomaly` gives a client the same system prompt Steward's own agent
//! uses, for a table and an anomaly description, so the client's model can run the diagnosis.

use rmcp::ErrorData as McpError;
use rmcp::model::{
    GetPromptRequestParams, GetPromptResult, ListPromptsResult, Prompt, PromptArgument,
    PromptMessage, Role,
};
use serde_json::Value;

use crate::agent::prompts::diagnosis_system;
use crate::agent::settings::AgentSettings;

pub const DIAGNOSE: &str = "diagnose_anomaly";

pub fn list() -> ListPromptsResult {
    let argument = |name: &str, description: &str| {
        let mut argument = PromptArgument::new(name);
        argument.description = Some(description.into());
        argument.required = Some(true);
        argument
    };
    ListPromptsResult::with_all_items(vec![
        Prompt::new(
            DIAGNOSE,
            Some(
                "Diagnose a data-quality anomaly with Steward's tools: method, evidence \
                 standards and report format.",
            ),
            Some(vec![
                argument("table", "The table the anomaly is in (schema.table)."),
                argument("description", "What looks wrong."),
            ]),
        )
        .with_title("Diagnose a data-quality anomaly"),
    ])
}

pub fn get(
    request: GetPromptRequestParams,
    agent: &AgentSettings,
) -> Result<GetPromptResult, McpError> {
    if request.name != DIAGNOSE {
        return Err(McpError::invalid_params(
            format!(
                "unknown prompt {:?}; available prompts: {DIAGNOSE}",
                request.name
            ),
            None,
        ));
    }
    let arguments = request.arguments.unwrap_or_default();
    let argument = |name: &str| -> Result<String, McpError> {
        match arguments.get(name).and_then(Value::as_str).map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value.to_string()),
            _ => Err(McpError::invalid_params(
                format!("prompt {DIAGNOSE} needs a non-empty `{name}` argument"),
                None,
            )),
        }
    };
    let table = argument("table")?;
    let description = argument("description")?;
    let upstream = agent.lineage.get(&table).cloned().unwrap_or_default();
    let text = diagnosis_system(&table, &description, &upstream, agent.max_steps, None)
        .map_err(|e| McpError::internal_error(e, None))?;
    Ok(
        GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
            .with_description(format!("Diagnose the anomaly in {table}")),
    )
}
