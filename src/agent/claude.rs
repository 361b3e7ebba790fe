//! Client for Anthropic's Messages API (`POST /v1/messages`): typed request and response
//! blocks, retries with exponential backoff and full jitter, and a fallback chain of models.
//! Content blocks and stop reasons it does not know pass through untouched.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where the API lives unless `ANTHROPIC_BASE_URL` says otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The `anthropic-version` header this client's types were written against.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "2023-06-01";
/// The environment variable the API key conventionally comes from.
pub const DEFAULT_API_KEY_ENV: &str = "ANTHROPIC_API_KEY";

/// Longest time spent establishing a connection, whatever the request timeout: an unreachable
/// host should fail over quickly rather than eat the whole budget of a long generation.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Error messages from the server are cut to this many characters in attempts and errors.
const MAX_DETAIL_CHARS: usize = 500;

// ---------------------------------------------------------------------------------------------
// Configuration

/// An Anthropic API key. `Debug` and `Display` print `[REDACTED]`, so the key can sit in
/// structs that are logged or formatted into errors without leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The secret itself; only the request headers and the scrubber read it.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey(key)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Everything the client needs, built by the caller (which reads the environment).
/// [`ClaudeConfig::new`] fills in the defaults; override fields as needed.
#[derive(Debug, Clone)]
pub struct ClaudeConfig {
    /// API root without `/v1/messages`; a trailing slash is ignored. Pass `ANTHROPIC_BASE_URL`
    /// here when it is set, as the official SDKs do. Default [`DEFAULT_BASE_URL`].
    pub base_url: String,
    pub api_key: ApiKey,
    /// Name of the environment variable the key came from, quoted in authentication errors so
    /// the operator knows what to fix. Default [`DEFAULT_API_KEY_ENV`].
    pub api_key_env: String,
    /// The primary model first, then the fallback chain, tried in order.
    pub models: Vec<String>,
    /// Limit for one HTTP attempt, connection to last byte. Default 300 s, enough for a
    /// non-streamed answer of ~16k output tokens.
    pub request_timeout: Duration,
    /// Retries per model after its first attempt (so `max_retries + 1` attempts). Default 3.
    pub max_retries: u32,
    /// Backoff before retry `n` (0-based) is uniform in `[0, min(cap, base * 2^n)]`
    /// ("full jitter"). Default base 500 ms.
    pub backoff_base: Duration,
    /// Default 20 s.
    pub backoff_cap: Duration,
    /// Upper bound on a server's `retry-after-ms`/`retry-after`. Default 60 s.
    pub retry_after_cap: Duration,
    /// Default [`DEFAULT_ANTHROPIC_VERSION`].
    pub anthropic_version: String,
}

impl ClaudeConfig {
    /// Defaults for everything but the key and the model chain.
    pub fn new(api_key: ApiKey, models: Vec<String>) -> Self {
        ClaudeConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            api_key,
            api_key_env: DEFAULT_API_KEY_ENV.to_string(),
            models,
            request_timeout: Duration::from_secs(300),
            max_retries: 3,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(20),
            retry_after_cap: Duration::from_secs(60),
            anthropic_version: DEFAULT_ANTHROPIC_VERSION.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Content

/// Who speaks in an [`InputMessage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Assistant,
}

/// One block of message content, in requests and responses alike.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentBlock {
    /// `{"type":"text","text":...}`. Citations on response text are not kept.
    Text(String),
    /// The model asks for a tool call.
    ToolUse(ToolUse),
    /// The answer to a [`ToolUse`], sent in a user turn.
    ToolResult(ToolResult),
    /// Any other block (`thinking`, `redacted_thinking`, `server_tool_use`, images, types
    /// added later), kept verbatim: thinking blocks must go back in the next assistant turn
    /// byte for byte, signature included, or the API rejects the conversation.
    Other(Value),
}

impl ContentBlock {
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text(text.into())
    }
}

/// A tool call requested by the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUse {
    /// `toolu_...`; the matching [`ToolResult::tool_use_id`].
    pub id: String,
    pub name: String,
    /// Arguments, an object shaped by the tool's `input_schema` (not validated here).
    pub input: Value,
}

/// The outcome of a tool call, returned to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    pub tool_use_id: String,
    #[serde(default)]
    pub content: ToolResultContent,
    /// Tells the model the call failed, so it can correct itself instead of trusting `content`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_error: bool,
}

impl ToolResult {
    /// A successful result with text content.
    pub fn ok(tool_use_id: impl Into<String>, text: impl Into<String>) -> Self {
        ToolResult {
            tool_use_id: tool_use_id.into(),
            content: ToolResultContent::Text(text.into()),
            is_error: false,
        }
    }

    /// A failed call; `text` explains the failure to the model.
    pub fn error(tool_use_id: impl Into<String>, text: impl Into<String>) -> Self {
        ToolResult {
            is_error: true,
            ..ToolResult::ok(tool_use_id, text)
        }
    }
}

/// A tool result's content: a string, or a list of blocks (text, or verbatim others such as
/// images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    Text(String),
    Blocks(Vec<ContentBlock>),
}

impl Default for ToolResultContent {
    fn default() -> Self {
        ToolResultContent::Text(String::new())
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Serialize for ContentBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Typed<'a> {
            Text { text: &'a str },
            ToolUse(&'a ToolUse),
            ToolResult(&'a ToolResult),
        }
        match self {
            ContentBlock::Text(text) => Typed::Text { text }.serialize(serializer),
            ContentBlock::ToolUse(call) => Typed::ToolUse(call).serialize(serializer),
            ContentBlock::ToolResult(result) => Typed::ToolResult(result).serialize(serializer),
            ContentBlock::Other(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Text {
            text: String,
        }
        let value = Value::deserialize(deserializer)?;
        let kind = match value.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            _ => return Err(de::Error::custom("content block without a string `type`")),
        };
        // A known type with the wrong shape is an error, not `Other`: silently demoting a
        // broken tool_use would make the agent skip a call the model asked for.
        match kind.as_str() {
            "text" => serde_json::from_value::<Text>(value).map(|t| ContentBlock::Text(t.text)),
            "tool_use" => serde_json::from_value(value).map(ContentBlock::ToolUse),
            "tool_result" => serde_json::from_value(value).map(ContentBlock::ToolResult),
            _ => Ok(ContentBlock::Other(value)),
        }
        .map_err(|e| de::Error::custom(format!("`{kind}` block: {e}")))
    }
}

/// One turn of the conversation sent to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    pub role: Role,
    pub content: Vec<ContentBlock>,
}

impl InputMessage {
    /// A user turn holding one text block.
    pub fn user(text: impl Into<String>) -> Self {
        InputMessage {
            role: Role::User,
            content: vec![ContentBlock::text(text)],
        }
    }

    /// The user turn that answers an assistant turn's tool calls, one result per call.
    pub fn tool_results(results: impl IntoIterator<Item = ToolResult>) -> Self {
        InputMessage {
            role: Role::User,
            content: results.into_iter().map(ContentBlock::ToolResult).collect(),
        }
    }
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDefinition {
    /// `^[a-zA-Z0-9_-]{1,128}$`
    pub name: String,
    pub description: String,
    /// JSON Schema of the input; its top-level `type` must be `"object"`.
    pub input_schema: Value,
}

impl ToolDefinition {
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
    ) -> Self {
        ToolDefinition {
            name: name.into(),
            description: description.into(),
            input_schema,
        }
    }
}

/// How the model must use the tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides (the API's default).
    Auto,
    /// Some tool must be called.
    Any,
    /// This tool must be called.
    Tool { name: String },
    /// No tool may be called.
    None,
}

// ---------------------------------------------------------------------------------------------
// Request

/// The model-independent part of a Messages request; [`Claude::send`] fills in `model` for
/// each model of the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRequest {
    pub max_tokens: u32,
    /// System prompt blocks, sent as text blocks in order. Empty strings are skipped (the API
    /// rejects empty text blocks).
    pub system: Vec<String>,
    pub tools: Vec<ToolDefinition>,
    pub messages: Vec<InputMessage>,
    pub tool_choice: Option<ToolChoice>,
    /// Mark the last tool and the last system block with `cache_control: ephemeral`, so the
    /// tools + system prefix is cached across the calls of an agent loop. Default on.
    pub prompt_caching: bool,
}

impl MessageRequest {
    pub fn new(max_tokens: u32) -> Self {
        MessageRequest {
            max_tokens,
            system: Vec::new(),
            tools: Vec::new(),
            messages: Vec::new(),
            tool_choice: None,
            prompt_caching: true,
        }
    }

    /// Appends a system prompt block.
    pub fn system(mut self, text: impl Into<String>) -> Self {
        self.system.push(text.into());
        self
    }

    pub fn tool(mut self, tool: ToolDefinition) -> Self {
        self.tools.push(tool);
        self
    }

    pub fn message(mut self, message: InputMessage) -> Self {
        self.messages.push(message);
        self
    }

    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    pub fn without_prompt_caching(mut self) -> Self {
        self.prompt_caching = false;
        self
    }

    /// The JSON body sent for `model`, cache markers included.
    pub fn to_json(&self, model: &str) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self.wire(model))
    }

    fn wire<'a>(&'a self, model: &'a str) -> WireRequest<'a> {
        let system: Vec<&str> = self
            .system
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        let marked = |i: usize, len: usize| self.prompt_caching && i + 1 == len;
        WireRequest {
            model,
            max_tokens: self.max_tokens,
            system: system
                .iter()
                .enumerate()
                .map(|(i, text)| WireText {
                    kind: "text",
                    text,
                    cache_control: marked(i, system.len()).then_some(CacheControl::Ephemeral),
                })
                .collect(),
            messages: &self.messages,
            tools: self
                .tools
                .iter()
                .enumerate()
                .map(|(i, tool)| WireTool {
                    name: &tool.name,
                    description: &tool.description,
                    input_schema: &tool.input_schema,
                    cache_control: marked(i, self.tools.len()).then_some(CacheControl::Ephemeral),
                })
                .collect(),
            tool_choice: self.tool_choice.as_ref(),
        }
    }
}

#[derive(Serialize)]
struct WireRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<WireText<'a>>,
    messages: &'a [InputMessage],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<&'a ToolChoice>,
}

#[derive(Serialize)]
struct WireText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

#[derive(Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    input_schema: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum CacheControl {
    Ephemeral,
}

// ---------------------------------------------------------------------------------------------
// Response

/// A model's answer (the API's `Message` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// `msg_...`
    pub id: String,
    /// The model that produced the answer, as the API reports it.
    pub model: String,
    pub content: Vec<ContentBlock>,
    /// `None` only for streamed partial messages, which this client does not request.
    pub stop_reason: Option<StopReason>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    pub usage: Usage,
}

impl Message {
    /// The non-empty text blocks joined by newlines.
    pub fn text(&self) -> String {
        let texts: Vec<&str> = self
            .content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) if !t.is_empty() => Some(t.as_str()),
                _ => None,
            })
            .collect();
        texts.join("\n")
    }

    /// The tool calls, in the order the model made them.
    pub fn tool_uses(&self) -> Vec<&ToolUse> {
        self.content
            .iter()
            .filter_map(|b| match b {
                ContentBlock::ToolUse(call) => Some(call),
                _ => None,
            })
            .collect()
    }

    /// This answer as the assistant turn of the next request: every block in order, unknown
    /// ones verbatim, minus empty text blocks (which the API rejects in requests).
    pub fn to_assistant_turn(&self) -> InputMessage {
        InputMessage {
            role: Role::Assistant,
            content: self
                .content
                .iter()
                .filter(|b| !matches!(b, ContentBlock::Text(t) if t.is_empty()))
                .cloned()
                .collect(),
        }
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
    /// A server tool paused a long turn; send the conversation back to continue it.
    PauseTurn,
    Refusal,
    StopSequence,
    /// A reason added to the API after this client was written.
    Other(String),
}

impl StopReason {
    pub fn as_str(&self) -> &str {
        match self {
            StopReason::EndTurn => "end_turn",
            StopReason::ToolUse => "tool_use",
            StopReason::MaxTokens => "max_tokens",
            StopReason::PauseTurn => "pause_turn",
            StopReason::Refusal => "refusal",
            StopReason::StopSequence => "stop_sequence",
            StopReason::Other(other) => other,
        }
    }
}

impl From<&str> for StopReason {
    fn from(s: &str) -> Self {
        match s {
            "end_turn" => StopReason::EndTurn,
            "tool_use" => StopReason::ToolUse,
            "max_tokens" => StopReason::MaxTokens,
            "pause_turn" => StopReason::PauseTurn,
            "refusal" => StopReason::Refusal,
            "stop_sequence" => StopReason::StopSequence,
            other => StopReason::Other(other.to_string()),
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StopReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StopReason {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| StopReason::from(s.as_str()))
    }
}

/// Token counts of one call, or a sum of calls. `input_tokens` excludes the cached tokens,
/// which are counted separately (and priced differently).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Tokens written to the prompt cache; absent or `null` means 0.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub cache_creation_input_tokens: u64,
    /// Tokens read from the prompt cache; absent or `null` means 0.
    #[serde(default, deserialize_with = "null_as_zero")]
    pub cache_read_input_tokens: u64,
}

impl Usage {
    /// Adds `other` to these counts (saturating, never panics).
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(other.cache_creation_input_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(other.cache_read_input_tokens);
    }
}

fn null_as_zero<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(Option::<u64>::deserialize(deserializer)?.unwrap_or(0))
}

/// A model's prices in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Writing to the prompt cache.
    pub cache_write: f64,
    /// Reading from the prompt cache.
    pub cache_read: f64,
}

impl Price {
    /// Prices with Anthropic's usual cache multipliers for the 5-minute cache: writes cost
    /// 1.25x the input price, reads 0.1x.
    pub fn with_standard_cache(input: f64, output: f64) -> Self {
        Price {
            input,
            output,
            cache_write: input * 1.25,
            cache_read: input * 0.1,
        }
    }
}

/// What `usage` costs at `price`, in USD.
pub fn cost_usd(usage: &Usage, price: &Price) -> f64 {
    // u64 -> f64 loses precision only past 2^53 tokens.
    let per_million = |tokens: u64, usd: f64| tokens as f64 * usd / 1_000_000.0;
    per_million(usage.input_tokens, price.input)
        + per_million(usage.output_tokens, price.output)
        + per_million(usage.cache_creation_input_tokens, price.cache_write)
        + per_million(usage.cache_read_input_tokens, price.cache_read)
}

// ---------------------------------------------------------------------------------------------
// Attempts and errors

/// One HTTP attempt, for reports such as "primary rate limited 4x, answered by fallback".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    pub model: String,
    pub outcome: AttemptOutcome,
    /// What the server asked for in `retry-after-ms` / `retry-after`, before capping.
    pub retry_after_ms: Option<u64>,
    /// How long the client waited after this attempt before the next one on the same model
    /// (0 when it moved to the next model or stopped).
    pub waited_ms: u64,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// A well-formed `Message` came back.
    Answered,
    /// A non-2xx status. `error_type` and `message` come from the API's error body
    /// (`rate_limit_error`, `overloaded_error`, ...); `error_type` is empty and `message`
    /// holds the start of the body when it was not the API's error JSON.
    Http {
        status: u16,
        error_type: String,
        message: String,
    },
    /// No complete answer within [`ClaudeConfig::request_timeout`].
    Timeout,
    /// The connection could not be made or broke.
    Connection { detail: String },
    /// A 2xx whose body is not JSON or not a `Message`.
    Malformed { detail: String },
}

impl AttemptOutcome {
    /// A short class for grouping: `"429 rate_limit_error"`, `"timeout"`, ...
    pub fn label(&self) -> String {
        match self {
            AttemptOutcome::Answered => "answered".to_string(),
            AttemptOutcome::Http {
                status, error_type, ..
            } if error_type.is_empty() => format!("HTTP {status}"),
            AttemptOutcome::Http {
                status, error_type, ..
            } => format!("HTTP {status} {error_type}"),
            AttemptOutcome::Timeout => "timeout".to_string(),
            AttemptOutcome::Connection { .. } => "connection error".to_string(),
            AttemptOutcome::Malformed { .. } => "malformed response".to_string(),
        }
    }
}

impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = match self {
            AttemptOutcome::Http { message, .. } => message,
            AttemptOutcome::Connection { detail } | AttemptOutcome::Malformed { detail } => detail,
            AttemptOutcome::Answered | AttemptOutcome::Timeout => "",
        };
        if detail.is_empty() {
            f.write_str(&self.label())
        } else {
            write!(f, "{}: {detail}", self.label())
        }
    }
}

/// Per model, in order: how its attempts ended, e.g.
/// `claude-a: HTTP 429 rate_limit_error x4 (last: HTTP 429 rate_limit_error: slow down); claude-b: answered`.
pub fn summarize_attempts(attempts: &[Attempt]) -> String {
    let mut models: Vec<(&str, Vec<&AttemptOutcome>)> = Vec::new();
    for a in attempts {
        match models.iter_mut().find(|(m, _)| *m == a.model) {
            Some((_, outcomes)) => outcomes.push(&a.outcome),
            None => models.push((&a.model, vec![&a.outcome])),
        }
    }
    let parts: Vec<String> = models
        .iter()
        .map(|(model, outcomes)| {
            let mut counts: Vec<(String, usize)> = Vec::new();
            for o in outcomes.iter().filter(|o| **o != &AttemptOutcome::Answered) {
                let label = o.label();
                match counts.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((label, 1)),
                }
            }
            let failures: Vec<String> = counts.iter().map(|(l, n)| format!("{l} x{n}")).collect();
            match outcomes.last() {
                Some(AttemptOutcome::Answered) if failures.is_empty() => {
                    format!("{model}: answered")
                }
                Some(AttemptOutcome::Answered) => {
                    format!("{model}: {}, then answered", failures.join(", "))
                }
                Some(last) => format!("{model}: {} (last: {last})", failures.join(", ")),
                None => format!("{model}: not tried"),
            }
        })
        .collect();
    parts.join("; ")
}

/// A successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub message: Message,
    /// The model of the chain that answered (the one requested).
    pub model: String,
    /// Every attempt, the answered one last.
    pub attempts: Vec<Attempt>,
}

impl Response {
    /// E.g. `answered by claude-b after 5 attempts (claude-a: HTTP 429 rate_limit_error x4 (...); claude-b: answered)`.
    pub fn summary(&self) -> String {
        let n = self.attempts.len();
        format!(
            "answered by {} after {n} attempt{} ({})",
            self.model,
            if n == 1 { "" } else { "s" },
            summarize_attempts(&self.attempts)
        )
    }
}

/// Why [`Claude::send`] gave up. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum ClaudeError {
    /// 401/403: not retried, no fallback, since every model would refuse the same key.
    #[error(
        "Anthropic authentication failed ({}): check the API key in env var {env_var}",
        status_text(*status, error_type, message)
    )]
    Authentication {
        env_var: String,
        status: u16,
        error_type: String,
        message: String,
    },
    /// 400, 413 and other 4xx: the request itself is wrong (a bug on our side), so neither a
    /// retry nor another model would help.
    #[error(
        "Anthropic rejected the request to {model} ({})",
        status_text(*status, error_type, message)
    )]
    InvalidRequest {
        model: String,
        status: u16,
        error_type: String,
        message: String,
    },
    /// Every model of the chain failed (retries exhausted, or model not found).
    #[error("no model answered: {}", summarize_attempts(attempts))]
    AllModelsFailed { attempts: Vec<Attempt> },
    /// The configuration cannot work (no model, no key, bad base URL).
    #[error("Anthropic client configuration: {0}")]
    Config(String),
    #[error("could not encode the request as JSON: {0}")]
    Encode(#[from] serde_json::Error),
}

fn status_text(status: u16, error_type: &str, message: &str) -> String {
    match (error_type.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {status}"),
        (true, false) => format!("HTTP {status}: {message}"),
        (false, true) => format!("HTTP {status} {error_type}"),
        (false, false) => format!("HTTP {status} {error_type}: {message}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Client

/// The Messages API client. Cheap to clone; clones share the connection pool.
#[derive(Clone)]
pub struct Claude {
    http: reqwest::Client,
    config: ClaudeConfig,
    endpoint: String,
    headers: HeaderMap,
}

impl fmt::Debug for Claude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claude")
            .field("endpoint", &self.endpoint)
            .field("models", &self.config.models)
            .finish_non_exhaustive()
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Try the same model again (after a wait), then the next model.
    Retry,
    /// Give this model up at once and try the next one.
    NextModel,
    Authentication,
    InvalidRequest,
}

impl Claude {
    pub fn new(config: ClaudeConfig) -> Result<Self, ClaudeError> {
        if config.models.is_empty() {
            return Err(ClaudeError::Config("no model configured".into()));
        }
        if config.api_key.expose().trim().is_empty() {
            return Err(ClaudeError::Config(format!(
                "no API key: set env var {}",
                config.api_key_env
            )));
        }
        let endpoint = format!("{}/v1/messages", config.base_url.trim_end_matches('/'));
        reqwest::Url::parse(&endpoint).map_err(|e| {
            ClaudeError::Config(format!("base URL {:?} is not a URL: {e}", config.base_url))
        })?;
        let mut key = HeaderValue::from_str(config.api_key.expose()).map_err(|_| {
            ClaudeError::Config(format!(
                "the API key in env var {} has characters not allowed in an HTTP header",
                config.api_key_env
            ))
        })?;
        key.set_sensitive(true);
        let version = HeaderValue::from_str(&config.anthropic_version).map_err(|_| {
            ClaudeError::Config(format!(
                "anthropic-version {:?} is not a valid header value",
                config.anthropic_version
            ))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(HeaderName::from_static("x-api-key"), key);
        headers.insert(HeaderName::from_static("anthropic-version"), version);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(MAX_CONNECT_TIMEOUT))
            .build()
            .map_err(|e| ClaudeError::Config(format!("HTTP client: {e}")))?;
        Ok(Claude {
            http,
            config,
            endpoint,
            headers,
        })
    }

    pub fn config(&self) -> &ClaudeConfig {
        &self.config
    }

    /// Sends `request` to the first model of the chain that answers.
    ///
    /// Per model, up to `max_retries` retries follow a failed attempt on: 429, 529, 5xx, 408,
    /// 409, timeouts, connection errors, and 2xx bodies that are not a valid `Message` (a
    /// proxy or load balancer glitch more often than an API change, and a retry is cheap). A
    /// server's `x-should-retry: true|false` overrides that choice, as in the official SDKs.
    /// Waits honour `retry-after-ms`, then `retry-after` (seconds; an HTTP date is ignored),
    /// capped at `retry_after_cap`; otherwise exponential backoff with full jitter. When a
    /// model's retries run out, or it answers 404 (unknown model), the next model gets the
    /// same request. 401/403 and other 4xx fail at once.
    ///
    /// To cancel, drop the future: nothing runs in the background.
    pub async fn send(&self, request: &MessageRequest) -> Result<Response, ClaudeError> {
        let mut attempts: Vec<Attempt> = Vec::new();
        for model in &self.config.models {
            let body = serde_json::to_vec(&request.wire(model))?;
            for retry in 0..=self.config.max_retries {
                let (outcome, retry_after, next) = match self.attempt(body.clone()).await {
                    Ok(message) => {
                        attempts.push(Attempt {
                            model: model.clone(),
                            outcome: AttemptOutcome::Answered,
                            retry_after_ms: None,
                            waited_ms: 0,
                        });
                        if attempts.len() > 1 {
                            tracing::info!(summary = %summarize_attempts(&attempts), "Anthropic answered after retries");
                        }
                        return Ok(Response {
                            message,
                            model: model.clone(),
                            attempts,
                        });
                    }
                    Err(failure) => failure,
                };
                let last_try = retry == self.config.max_retries;
                let wait = match next {
                    Disposition::Retry if !last_try => self.wait_before_retry(retry, retry_after),
                    _ => Duration::ZERO,
                };
                tracing::warn!(
                    model = %model,
                    attempt = retry + 1,
                    outcome = %outcome,
                    wait_ms = duration_ms(wait),
                    "Anthropic request failed"
                );
                attempts.push(Attempt {
                    model: model.clone(),
                    outcome: outcome.clone(),
                    retry_after_ms: retry_after.map(duration_ms),
                    waited_ms: duration_ms(wait),
                });
                match next {
                    Disposition::Retry if !last_try => tokio::time::sleep(wait).await,
                    Disposition::Retry | Disposition::NextModel => break,
                    Disposition::Authentication | Disposition::InvalidRequest => {
                        let (status, error_type, message) = match outcome {
                            AttemptOutcome::Http {
                                status,
                                error_type,
                                message,
                            } => (status, error_type, message),
                            other => (0, String::new(), other.to_string()),
                        };
                        return Err(if next == Disposition::Authentication {
                            ClaudeError::Authentication {
                                env_var: self.config.api_key_env.clone(),
                                status,
                                error_type,
                                message,
                            }
                        } else {
                            ClaudeError::InvalidRequest {
                                model: model.clone(),
                                status,
                                error_type,
                                message,
                            }
                        });
                    }
                }
            }
        }
        Err(ClaudeError::AllModelsFailed { attempts })
    }

    /// One HTTP exchange. On failure: how it ended, the server's requested wait, what next.
    async fn attempt(
        &self,
        body: Vec<u8>,
    ) -> Result<Message, (AttemptOutcome, Option<Duration>, Disposition)> {
        let sent = self
            .http
            .post(&self.endpoint)
            .headers(self.headers.clone())
            .body(body)
            .send()
            .await;
        let response = sent.map_err(|e| self.transport_failure(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_failure(&e))?;
        if (200..300).contains(&status) {
            return serde_json::from_slice::<Message>(&bytes).map_err(|e| {
                let detail = self.scrub(&format!("HTTP {status}: {e}"));
                (
                    AttemptOutcome::Malformed { detail },
                    None,
                    Disposition::Retry,
                )
            });
        }
        let (error_type, message) = error_body(&bytes);
        let outcome = AttemptOutcome::Http {
            status,
            error_type,
            message: self.scrub(&message),
        };
        Err((outcome, retry_after(&headers), classify(status, &headers)))
    }

    fn transport_failure(
        &self,
        e: &reqwest::Error,
    ) -> (AttemptOutcome, Option<Duration>, Disposition) {
        let outcome = if e.is_timeout() {
            AttemptOutcome::Timeout
        } else {
            AttemptOutcome::Connection {
                detail: self.scrub(&error_chain(e)),
            }
        };
        (outcome, None, Disposition::Retry)
    }

    fn wait_before_retry(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(asked) => asked.min(self.config.retry_after_cap),
            None => full_jitter(backoff_ceiling(
                self.config.backoff_base,
                self.config.backoff_cap,
                retry,
            )),
        }
    }

    /// Removes the key from text that came from outside (a proxy could echo headers) and
    /// bounds its length.
    fn scrub(&self, text: &str) -> String {
        let key = self.config.api_key.expose();
        let text = if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[REDACTED]")
        };
        truncate(&text, MAX_DETAIL_CHARS)
    }
}

/// What to do after a non-2xx status.
fn classify(status: u16, headers: &HeaderMap) -> Disposition {
    let by_status = match status {
        401 | 403 => return Disposition::Authentication,
        404 => return Disposition::NextModel,
        408 | 409 | 429 | 500..=599 => Disposition::Retry,
        _ => Disposition::InvalidRequest,
    };
    let should_retry = headers
        .get("x-should-retry")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    match (should_retry, by_status) {
        (Some("true"), _) => Disposition::Retry,
        // The server says retrying is pointless, but another model may still answer.
        (Some("false"), Disposition::Retry) => Disposition::NextModel,
        _ => by_status,
    }
}

/// `retry-after-ms` (milliseconds), else `retry-after` (seconds). Fractions are allowed;
/// HTTP dates, negative and absurd values are ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    number("retry-after-ms")
        .map(|ms| ms / 1000.0)
        .or_else(|| number("retry-after"))
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

/// The largest backoff before retry `retry` (0-based): `min(cap, base * 2^retry)`.
fn backoff_ceiling(base: Duration, cap: Duration, retry: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(retry)).min(cap)
}

/// A uniformly random duration in `[0, ceiling]`: spreads retries from many clients apart.
fn full_jitter(ceiling: Duration) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `(error.type, error.message)` from the API's error JSON; otherwise `("", start of body)`.
fn error_body(bytes: &[u8]) -> (String, String) {
    #[derive(Deserialize)]
    struct Envelope {
        error: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Envelope>(bytes) {
        Ok(Envelope { error }) => (error.kind, error.message),
        Err(_) => (
            String::new(),
            String::from_utf8_lossy(bytes).trim().to_string(),
        ),
    }
}

/// An error and its sources, `outer: inner: innermost` (reqwest's own message alone rarely
/// says what went wrong, e.g. "error sending request").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        source = inner.source();
    }
    text
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "sk-ant-api03-unit-secret";

    fn config(models: &[&str]) -> ClaudeConfig {
        ClaudeConfig::new(
            ApiKey::new(SECRET),
            models.iter().map(|m| m.to_string()).collect(),
        )
    }

    #[test]
    fn api_key_never_prints() {
        let key = ApiKey::new(SECRET);
        assert_eq!(format!("{key:?} {key}"), "[REDACTED] [REDACTED]");
        let config = config(&["m"]);
        assert!(!format!("{config:?}").contains(SECRET));
        let claude = Claude::new(config).unwrap();
        assert!(!format!("{claude:?}").contains(SECRET));
    }

    #[test]
    fn new_checks_the_configuration() {
        let message = |config: ClaudeConfig| Claude::new(config).unwrap_err().to_string();
        assert_eq!(
            message(config(&[])),
            "Anthropic client configuration: no model configured"
        );
        let mut no_key = config(&["m"]);
        no_key.api_key = ApiKey::new("  ");
        assert_eq!(
            message(no_key),
            "Anthropic client configuration: no API key: set env var ANTHROPIC_API_KEY"
        );
        let mut bad_key = config(&["m"]);
        bad_key.api_key = ApiKey::new(format!("{SECRET}\n"));
        bad_key.api_key_env = "STEWARD_KEY".into();
        assert_eq!(
            message(bad_key),
            "Anthropic client configuration: the API key in env var STEWARD_KEY has characters \
             not allowed in an HTTP header"
        );
        let mut bad_url = config(&["m"]);
        bad_url.base_url = "not a url".into();
        assert!(
            message(bad_url).starts_with("Anthropic client configuration: base URL \"not a url\"")
        );

        let mut slash = config(&["m"]);
        slash.base_url = "http://proxy.internal/anthropic//".into();
        assert_eq!(
            Claude::new(slash).unwrap().endpoint,
            "http://proxy.internal/anthropic/v1/messages"
        );
        assert_eq!(
            Claude::new(config(&["m"])).unwrap().endpoint,
            "https://api.anthropic.com/v1/messages"
        );
    }

    #[test]
    fn request_body_marks_the_cache_and_skips_empty_parts() {
        let tool = |name: &str| ToolDefinition::new(name, "d", json!({"type": "object"}));
        let request = MessageRequest::new(256)
            .system("a")
            .system("")
            .system("b")
            .tool(tool("t1"))
            .tool(tool("t2"))
            .message(InputMessage::user("q"))
            .tool_choice(ToolChoice::Tool { name: "t2".into() });
        assert_eq!(
            request.to_json("claude-x").unwrap(),
            json!({
                "model": "claude-x",
                "max_tokens": 256,
                "system": [
                    {"type": "text", "text": "a"},
                    {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
                ],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}],
                "tools": [
                    {"name": "t1", "description": "d", "input_schema": {"type": "object"}},
                    {"name": "t2", "description": "d", "input_schema": {"type": "object"},
                     "cache_control": {"type": "ephemeral"}},
                ],
                "tool_choice": {"type": "tool", "name": "t2"},
            })
        );
        let bare = MessageRequest::new(8).message(InputMessage::user("q"));
        assert_eq!(
            bare.to_json("m").unwrap(),
            json!({"model": "m", "max_tokens": 8,
                   "messages": [{"role": "user", "content": [{"type": "text", "text": "q"}]}]})
        );
        for (choice, wire) in [
            (ToolChoice::Auto, json!({"type": "auto"})),
            (ToolChoice::Any, json!({"type": "any"})),
            (ToolChoice::None, json!({"type": "none"})),
        ] {
            assert_eq!(serde_json::to_value(choice).unwrap(), wire);
        }
    }

    #[test]
    fn content_blocks_round_trip() {
        let wire = json!([
            {"type": "text", "text": "hi"},
            {"type": "tool_use", "id": "toolu_1", "name": "q", "input": {"sql": "SELECT 1"}},
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "1"},
            {"type": "tool_result", "tool_use_id": "toolu_2",
             "content": [{"type": "text", "text": "oops"}], "is_error": true},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "x"}},
        ]);
        let blocks: Vec<ContentBlock> = serde_json::from_value(wire.clone()).unwrap();
        assert_eq!(
            blocks,
            vec![
                ContentBlock::text("hi"),
                ContentBlock::ToolUse(ToolUse {
                    id: "toolu_1".into(),
                    name: "q".into(),
                    input: json!({"sql": "SELECT 1"}),
                }),
                ContentBlock::ToolResult(ToolResult::ok("toolu_1", "1")),
                ContentBlock::ToolResult(ToolResult {
                    tool_use_id: "toolu_2".into(),
                    content: ToolResultContent::Blocks(vec![ContentBlock::text("oops")]),
                    is_error: true,
                }),
                ContentBlock::Other(wire[4].clone()),
            ]
        );
        assert_eq!(serde_json::to_value(&blocks).unwrap(), wire);
        // Response text carries `citations: null`, which is dropped.
        let with_citations: ContentBlock =
            serde_json::from_value(json!({"type": "text", "text": "x", "citations": null}))
                .unwrap();
        assert_eq!(with_citations, ContentBlock::text("x"));
    }

    #[test]
    fn broken_known_blocks_are_errors_not_others() {
        let err = serde_json::from_value::<ContentBlock>(json!({"type": "tool_use", "name": "q"}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "`tool_use` block: missing field `id`");
        let err = serde_json::from_value::<ContentBlock>(json!({"text": "no type"}))
            .unwrap_err()
            .to_string();
        assert_eq!(err, "content block without a string `type`");
    }

    #[test]
    fn message_helpers() {
        let message: Message = serde_json::from_value(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [
                {"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "text", "text": "a"},
                {"type": "tool_use", "id": "toolu_1", "name": "q", "input": {}},
                {"type": "text", "text": ""},
                {"type": "text", "text": "b"},
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 1, "output_tokens": 2},
        }))
        .unwrap();
        assert_eq!(message.text(), "a\nb");
        assert_eq!(message.tool_uses().len(), 1);
        let turn = message.to_assistant_turn();
        assert_eq!(turn.role, Role::Assistant);
        assert_eq!(turn.content.len(), 4);
        assert!(!turn.content.contains(&ContentBlock::text("")));
    }

    #[test]
    fn stop_reasons() {
        for (wire, reason) in [
            ("end_turn", StopReason::EndTurn),
            ("tool_use", StopReason::ToolUse),
            ("max_tokens", StopReason::MaxTokens),
            ("pause_turn", StopReason::PauseTurn),
            ("refusal", StopReason::Refusal),
            ("stop_sequence", StopReason::StopSequence),
            ("brand_new", StopReason::Other("brand_new".into())),
        ] {
            assert_eq!(
                serde_json::from_value::<StopReason>(json!(wire)).unwrap(),
                reason
            );
            assert_eq!(serde_json::to_value(&reason).unwrap(), json!(wire));
        }
    }

    #[test]
    fn usage_tolerates_missing_and_null_cache_counts_and_adds() {
        let absent: Usage =
            serde_json::from_value(json!({"input_tokens": 5, "output_tokens": 7})).unwrap();
        let null: Usage = serde_json::from_value(json!({
            "input_tokens": 5, "output_tokens": 7,
            "cache_creation_input_tokens": null, "cache_read_input_tokens": null,
        }))
        .unwrap();
        let expected = Usage {
            input_tokens: 5,
            output_tokens: 7,
            ..Usage::default()
        };
        assert_eq!((absent, null), (expected, expected));
        assert!(serde_json::from_value::<Usage>(json!({"input_tokens": 5})).is_err());

        let mut total = Usage {
            input_tokens: u64::MAX,
            output_tokens: 1,
            cache_creation_input_tokens: 2,
            cache_read_input_tokens: 3,
        };
        total.add(&Usage {
            input_tokens: 1,
            output_tokens: 10,
            cache_creation_input_tokens: 20,
            cache_read_input_tokens: 30,
        });
        assert_eq!(
            total,
            Usage {
                input_tokens: u64::MAX,
                output_tokens: 11,
                cache_creation_input_tokens: 22,
                cache_read_input_tokens: 33,
            }
        );
    }

    #[test]
    fn cost_arithmetic() {
        let price = Price::with_standard_cache(3.0, 15.0);
        assert_eq!(
            price,
            Price {
                input: 3.0,
                output: 15.0,
                cache_write: 3.75,
                cache_read: 0.30000000000000004,
            }
        );
        // 1M input = $3, 2M output = $30, 4M cache write = $15, 10M cache read = $3.
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 2_000_000,
            cache_creation_input_tokens: 4_000_000,
            cache_read_input_tokens: 10_000_000,
        };
        assert!((cost_usd(&usage, &price) - 51.0).abs() < 1e-9);
        assert_eq!(cost_usd(&Usage::default(), &price), 0.0);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_below() {
        let base = Duration::from_millis(500);
        let cap = Duration::from_secs(20);
        let ceilings: Vec<u128> = (0..8)
            .map(|n| backoff_ceiling(base, cap, n).as_millis())
            .collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 20000, 20000]);
        assert_eq!(backoff_ceiling(base, cap, u32::MAX), cap);
        for _ in 0..200 {
            assert!(full_jitter(Duration::from_millis(3)) <= Duration::from_millis(3));
        }
        assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_headers() {
        let ms = |pairs: &[(&'static str, &str)]| retry_after(&headers(pairs)).map(duration_ms);
        assert_eq!(ms(&[]), None);
        assert_eq!(ms(&[("retry-after", "7")]), Some(7000));
        assert_eq!(ms(&[("retry-after", "1.5")]), Some(1500));
        assert_eq!(
            ms(&[("retry-after", "2"), ("retry-after-ms", "250")]),
            Some(250)
        );
        assert_eq!(
            ms(&[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")]),
            None
        );
        assert_eq!(ms(&[("retry-after", "-3")]), None);
        assert_eq!(
            ms(&[("retry-after-ms", "junk"), ("retry-after", "1")]),
            Some(1000)
        );
        assert_eq!(ms(&[("retry-after", "1e300")]), None);
    }

    #[test]
    fn statuses_are_classified() {
        let plain = HeaderMap::new();
        for (status, disposition) in [
            (400, Disposition::InvalidRequest),
            (401, Disposition::Authentication),
            (403, Disposition::Authentication),
            (404, Disposition::NextModel),
            (408, Disposition::Retry),
            (409, Disposition::Retry),
            (413, Disposition::InvalidRequest),
            (422, Disposition::InvalidRequest),
            (429, Disposition::Retry),
            (500, Disposition::Retry),
            (502, Disposition::Retry),
            (503, Disposition::Retry),
            (504, Disposition::Retry),
            (529, Disposition::Retry),
        ] {
            assert_eq!(classify(status, &plain), disposition, "HTTP {status}");
        }
        let yes = headers(&[("x-should-retry", "true")]);
        let no = headers(&[("x-should-retry", "false")]);
        assert_eq!(classify(400, &yes), Disposition::Retry);
        assert_eq!(classify(529, &no), Disposition::NextModel);
        assert_eq!(classify(400, &no), Disposition::InvalidRequest);
        assert_eq!(classify(401, &yes), Disposition::Authentication);
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_body(
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#
            ),
            ("overloaded_error".to_string(), "Overloaded".to_string())
        );
        assert_eq!(
            error_body(b" <html>bad gateway</html>\n"),
            (String::new(), "<html>bad gateway</html>".to_string())
        );
        assert_eq!(truncate("abcdef", 3), "abc...");
        assert_eq!(truncate("ab", 3), "ab");
        assert_eq!(truncate("ééé", 2), "éé...");
    }

    #[test]
    fn scrub_removes_the_key() {
        let claude = Claude::new(config(&["m"])).unwrap();
        assert_eq!(
            claude.scrub(&format!("bad key {SECRET}!")),
            "bad key [REDACTED]!"
        );
    }

    #[test]
    fn summaries() {
        let attempt = |model: &str, outcome: AttemptOutcome| Attempt {
            model: model.into(),
            outcome,
            retry_after_ms: None,
            waited_ms: 0,
        };
        let overloaded = AttemptOutcome::Http {
            status: 529,
            error_type: "overloaded_error".into(),
            message: "Overloaded".into(),
        };
        let attempts = vec![
            attempt("a", overloaded.clone()),
            attempt("a", AttemptOutcome::Timeout),
            attempt("a", overloaded),
            attempt(
                "b",
                AttemptOutcome::Malformed {
                    detail: "EOF".into(),
                },
            ),
            attempt("b", AttemptOutcome::Answered),
        ];
        assert_eq!(
            summarize_attempts(&attempts),
            "a: HTTP 529 overloaded_error x2, timeout x1 (last: HTTP 529 overloaded_error: \
             Overloaded); b: malformed response x1, then answered"
        );
        let err = ClaudeError::AllModelsFailed {
            attempts: attempts[..3].to_vec(),
        };
        assert_eq!(
            err.to_string(),
            "no model answered: a: HTTP 529 overloaded_error x2, timeout x1 (last: HTTP 529 \
             overloaded_error: Overloaded)"
        );
        assert_eq!(
            AttemptOutcome::Http {
                status: 502,
                error_type: String::new(),
                message: String::new()
            }
            .to_string(),
            "HTTP 502"
        );
    }
}
