//! The tool contract shared by every caller (MCP server, agent, CLI): a static spec (name,
//! schemas, annotations) and an async call on JSON arguments that fails with a typed error.

use std::future::Future;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// What a tool does to the world, told truthfully to clients (MCP `ToolAnnotations`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Annotations {
    /// Never modifies anything.
    pub read_only: bool,
    /// May destroy or overwrite data.
    pub destructive: bool,
    /// Calling twice with the same arguments has no additional effect.
    pub idempotent: bool,
    /// Talks to systems outside Steward's own control.
    pub open_world: bool,
}

/// Everything a client needs to know about a tool before calling it.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub input_schema: Map<String, Value>,
    pub output_schema: Map<String, Value>,
    pub annotations: Annotations,
}

/// Why a tool call did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// The arguments do not match the tool's input schema (a protocol-level error for MCP).
    #[error("invalid arguments for {tool}: {message}")]
    InvalidParams { tool: &'static str, message: String },
    /// The tool understood the request and declined it for safety reasons.
    #[error("{0}")]
    Refused(String),
    /// The request was valid but could not be completed; the message says what to change.
    #[error("{0}")]
    Failed(String),
}

/// Who a call runs for and how to stop it; passed to every tool and down to the backends.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The identity backends act as (e.g. `X-Trino-User`): the human the call is made for.
    pub user: String,
    /// That human's groups (tools that start work of their own act with them).
    pub groups: Vec<String>,
    /// Cancelled when the caller gives up (MCP cancellation, shutdown).
    pub cancel: CancellationToken,
    /// Where a long-running tool reports progress (MCP progress notifications), if anywhere.
    pub progress: Option<ProgressSink>,
}

impl CallContext {
    pub fn new(user: impl Into<String>) -> Self {
        Self {
            user: user.into(),
            groups: Vec::new(),
            cancel: CancellationToken::new(),
            progress: None,
        }
    }

    /// Reports one line of progress to the caller, when it listens.
    pub fn report_progress(&self, message: &str) {
        if let Some(sink) = &self.progress {
            (sink.0)(message.to_string());
        }
    }
}

/// Receives progress messages of one call.
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(String) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// An invocable tool. Implemented for every [`TypedTool`] through [`register`].
#[async_trait]
pub trait Tool: Send + Sync {
    fn spec(&self) -> &ToolSpec;
    /// The facts policies decide on (statement kind, tables, row estimate...), without doing
    /// anything. `None` means the tool cannot say what it would do, and it is denied.
    async fn describe(
        &self,
        ctx: &CallContext,
        arguments: &Value,
    ) -> Result<Option<Value>, ToolError>;
    async fn call(&self, ctx: &CallContext, arguments: Value) -> Result<Value, ToolError>;
}

/// A tool written with Rust types; the JSON plumbing and schemas come from [`register`].
pub trait TypedTool: Send + Sync + 'static {
    /// Input; doc comments on fields become the schema descriptions clients show to models.
    type Params: DeserializeOwned + JsonSchema + Send;
    /// Output, returned as MCP structured content.
    type Output: Serialize + JsonSchema;
    const NAME: &'static str;
    const TITLE: &'static str;
    const DESCRIPTION: &'static str;
    const ANNOTATIONS: Annotations;

    /// What the call would do, as facts for policies; must not change anything.
    fn describe(
        &self,
        ctx: &CallContext,
        params: &Self::Params,
    ) -> impl Future<Output = Result<Value, ToolError>> + Send;

    fn run(
        &self,
        ctx: &CallContext,
        params: Self::Params,
    ) -> impl Future<Output = Result<Self::Output, ToolError>> + Send;
}

/// Wraps a typed tool into the object-safe [`Tool`] the registry holds.
pub fn register<T: TypedTool>(tool: T) -> Arc<dyn Tool> {
    let spec = ToolSpec {
        name: T::NAME,
        title: T::TITLE,
        description: T::DESCRIPTION,
        input_schema: object_schema::<T::Params>(false),
        output_schema: object_schema::<T::Output>(true),
        annotations: T::ANNOTATIONS,
    };
    Arc::new(Registered { tool, spec })
}

struct Registered<T> {
    tool: T,
    spec: ToolSpec,
}

#[async_trait]
impl<T: TypedTool> Tool for Registered<T> {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    async fn describe(
        &self,
        ctx: &CallContext,
        arguments: &Value,
    ) -> Result<Option<Value>, ToolError> {
        let params = parse_params::<T>(arguments.clone())?;
        self.tool.describe(ctx, &params).await.map(Some)
    }

    async fn call(&self, ctx: &CallContext, arguments: Value) -> Result<Value, ToolError> {
        let params = parse_params::<T>(arguments)?;
        let output = self.tool.run(ctx, params).await?;
        serde_json::to_value(output).map_err(|e| {
            ToolError::Failed(format!("{}: could not encode the result: {e}", T::NAME))
        })
    }
}

fn parse_params<T: TypedTool>(arguments: Value) -> Result<T::Params, ToolError> {
    // A client that sends no arguments means "all defaults".
    let arguments = if arguments.is_null() {
        Value::Object(Map::new())
    } else {
        arguments
    };
    serde_path_to_error::deserialize(arguments).map_err(|e| ToolError::InvalidParams {
        tool: T::NAME,
        message: describe_deserialize_error(&e),
    })
}

fn describe_deserialize_error(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = e.path().to_string();
    if path == "." {
        e.inner().to_string()
    } else {
        format!("{path}: {}", e.inner())
    }
}

/// JSON Schema (draft 2020-12) of a type, as the object MCP requires at the root.
fn object_schema<T: JsonSchema>(for_output: bool) -> Map<String, Value> {
    let settings = schemars::generate::SchemaSettings::draft2020_12();
    let settings = if for_output {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut object = match schema.to_value() {
        Value::Object(object) => object,
        // Only `true`/`false` schemas are not objects; tools never declare those.
        _ => Map::new(),
    };
    object.remove("title");
    object.insert("type".into(), Value::String("object".into()));
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    struct EchoParams {
        /// Text to echo.
        text: String,
        #[serde(default)]
        times: Option<u32>,
    }

    #[derive(Serialize, JsonSchema)]
    struct EchoOutput {
        text: String,
    }

    struct Echo;

    impl TypedTool for Echo {
        type Params = EchoParams;
        type Output = EchoOutput;
        const NAME: &'static str = "echo";
        const TITLE: &'static str = "Echo";
        const DESCRIPTION: &'static str = "Echoes text.";
        const ANNOTATIONS: Annotations = Annotations {
            read_only: true,
            destructive: false,
            idempotent: true,
            open_world: false,
        };

        async fn describe(&self, _: &CallContext, params: &EchoParams) -> Result<Value, ToolError> {
            Ok(serde_json::json!({"length": params.text.len()}))
        }

        async fn run(&self, _: &CallContext, params: EchoParams) -> Result<EchoOutput, ToolError> {
            Ok(EchoOutput {
                text: params.text.repeat(params.times.unwrap_or(1) as usize),
            })
        }
    }

    #[tokio::test]
    async fn typed_tool_round_trips_json() {
        let tool = register(Echo);
        let out = tool
            .call(
                &CallContext::new("test"),
                serde_json::json!({"text": "ab", "times": 2}),
            )
            .await
            .unwrap();
        assert_eq!(out, serde_json::json!({"text": "abab"}));
    }

    #[tokio::test]
    async fn describe_reports_facts_without_running() {
        let tool = register(Echo);
        let facts = tool
            .describe(
                &CallContext::new("test"),
                &serde_json::json!({"text": "abc"}),
            )
            .await
            .unwrap();
        assert_eq!(facts, Some(serde_json::json!({"length": 3})));
    }

    #[tokio::test]
    async fn wrong_argument_types_name_the_field() {
        let tool = register(Echo);
        let err = tool
            .call(
                &CallContext::new("test"),
                serde_json::json!({"text": "ab", "times": "two"}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            err,
            ToolError::InvalidParams {
                tool: "echo",
                message: "times: invalid type: string \"two\", expected u32".into()
            }
        );
    }

    #[tokio::test]
    async fn missing_and_unknown_arguments_are_invalid_params() {
        let tool = register(Echo);
        let missing = tool
            .call(&CallContext::new("test"), Value::Null)
            .await
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "invalid arguments for echo: missing field `text`"
        );
        let unknown = tool
            .call(
                &CallContext::new("test"),
                serde_json::json!({"text": "a", "colour": "red"}),
            )
            .await
            .unwrap_err();
        assert_eq!(
            unknown.to_string(),
            "invalid arguments for echo: colour: unknown field `colour`, expected `text` or `times`"
        );
    }

    #[test]
    fn schemas_are_objects_with_field_docs() {
        let tool = register(Echo);
        let spec = tool.spec();
        assert_eq!(spec.input_schema["type"], "object");
        assert_eq!(
            spec.input_schema["properties"]["text"]["description"],
            "Text to echo."
        );
        assert_eq!(spec.output_schema["type"], "object");
        assert_eq!(spec.output_schema["required"], serde_json::json!(["text"]));
    }
}
