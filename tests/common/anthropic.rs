//! A fake Anthropic Messages API (`POST /v1/messages`) for tests: scripted replies (messages,
//! API errors, malformed bodies, delays), every request recorded, and every request checked
//! against the official OpenAPI spec, so a client that passes here sends what the API accepts.
//!
//! # Scripting
//!
//! [`FakeAnthropic::start`] binds `127.0.0.1:0`. Each request takes the first reply found in:
//! the queue of its model ([`FakeAnthropic::push_for`]), the standing reply of its model
//! ([`FakeAnthropic::always_for`]), the shared queue ([`FakeAnthropic::push`]), the standing
//! shared reply ([`FakeAnthropic::always`]). With none of these it answers 500 `api_error`
//! "FakeAnthropic: no reply scripted". Message replies ([`Reply::text`],
//! [`Reply::tool_use`], [`Reply::message`]) take the requested model and a fresh `msg_` id
//! unless set.
//!
//! # Validation
//!
//! The request body is validated against the request schema of `POST /v1/messages` in
//! `anthropic_openapi_stainless.json` ([`SPEC_PATH`], or the file named by the env var
//! [`SPEC_ENV`]): `$ref`, `type`, `const`, `enum`, `required`, `properties`,
//! `additionalProperties`, `items`, `anyOf`/`oneOf` (by the `discriminator` mapping when the
//! schema has one, else any branch), string lengths, the anchored character-class `pattern`s
//! the spec uses, and numeric bounds. `x-api-key`, `anthropic-version` and a JSON
//! `content-type` must be present. A request that fails is answered 400
//! `invalid_request_error` naming the first problem (`messages[1].content[0].tool_use_id:
//! required`) and recorded as a violation; [`FakeAnthropic::assert_all_valid`] panics on any.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

/// The OpenAPI spec, inside the shared specs (see [`super::shared_dir`]).
pub const SPEC_PATH: &str = "specs/anthropic/anthropic_openapi_stainless.json";
/// Overrides [`SPEC_PATH`].
pub const SPEC_ENV: &str = "ANTHROPIC_OPENAPI_SPEC";

// ---------------------------------------------------------------------------------------------
// Replies

/// One scripted HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ReplyBody,
    delay: Option<Duration>,
}

#[derive(Debug, Clone)]
enum ReplyBody {
    /// A `Message` object; `model` and `id` are filled in per request when absent.
    Message(Map<String, Value>),
    Json(Value),
    Raw(Vec<u8>),
}

/// Token counts put in a message's `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeUsage {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
}

impl Default for FakeUsage {
    fn default() -> Self {
        FakeUsage {
            input: 12,
            output: 6,
            cache_write: 0,
            cache_read: 0,
        }
    }
}

impl Reply {
    /// 200, a message with these content blocks (raw JSON) and stop reason.
    pub fn message(content: Vec<Value>, stop_reason: &str) -> Reply {
        let mut message = Map::new();
        message.insert("type".into(), json!("message"));
        message.insert("role".into(), json!("assistant"));
        message.insert("content".into(), Value::Array(content));
        message.insert("stop_reason".into(), json!(stop_reason));
        message.insert("stop_sequence".into(), Value::Null);
        message.insert("stop_details".into(), Value::Null);
        message.insert("container".into(), Value::Null);
        let reply = Reply {
            status: 200,
            headers: Vec::new(),
            body: ReplyBody::Message(message),
            delay: None,
        };
        reply.usage(FakeUsage::default())
    }

    /// 200, one text block, `end_turn`.
    pub fn text(text: &str) -> Reply {
        Reply::message(vec![text_block(text)], "end_turn")
    }

    /// 200, one `tool_use` block per `(id, name, input)` in order, `tool_use`.
    pub fn tool_use(calls: Vec<(&str, &str, Value)>) -> Reply {
        let content = calls
            .into_iter()
            .map(|(id, name, input)| tool_use_block(id, name, input))
            .collect();
        Reply::message(content, "tool_use")
    }

    /// An API error: `{"type":"error","error":{"type":error_type,"message":message},...}`.
    pub fn error(status: u16, error_type: &str, message: &str) -> Reply {
        Reply::json(
            status,
            json!({
                "type": "error",
                "error": {"type": error_type, "message": message},
                "request_id": request_id(),
            }),
        )
    }

    /// 429 `rate_limit_error`.
    pub fn rate_limited() -> Reply {
        Reply::error(
            429,
            "rate_limit_error",
            "This request would exceed the rate limit for your organization",
        )
    }

    /// 529 `overloaded_error`.
    pub fn overloaded() -> Reply {
        Reply::error(529, "overloaded_error", "Overloaded")
    }

    /// 500 `api_error`.
    pub fn server_error() -> Reply {
        Reply::error(500, "api_error", "Internal server error")
    }

    /// 200 with a truncated body: `{"id": "msg_`.
    pub fn malformed() -> Reply {
        Reply::raw(200, b"{\"id\": \"msg_".to_vec())
    }

    /// A text reply sent after `delay`, to make a client time out.
    pub fn slow(delay: Duration) -> Reply {
        Reply::text("slow answer").delay(delay)
    }

    /// Any status with this JSON body.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Json(body),
            delay: None,
        }
    }

    /// Any status with these bytes as body (`content-type: application/json` all the same).
    pub fn raw(status: u16, body: Vec<u8>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Raw(body),
            delay: None,
        }
    }

    /// Adds `retry-after: secs`.
    pub fn retry_after(self, secs: u64) -> Reply {
        self.header("retry-after", &secs.to_string())
    }

    /// Adds `retry-after-ms: ms`.
    pub fn retry_after_ms(self, ms: u64) -> Reply {
        self.header("retry-after-ms", &ms.to_string())
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = Some(delay);
        self
    }

    /// Sets a message's `usage`, with every field the API sends.
    pub fn usage(self, usage: FakeUsage) -> Reply {
        self.with_message_field(
            "usage",
            json!({
                "input_tokens": usage.input,
                "output_tokens": usage.output,
                "cache_creation_input_tokens": usage.cache_write,
                "cache_read_input_tokens": usage.cache_read,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": usage.cache_write,
                    "ephemeral_1h_input_tokens": 0,
                },
                "server_tool_use": null,
                "service_tier": "standard",
                "inference_geo": null,
            }),
        )
    }

    /// Sets a message's `stop_reason` (any string, for unknown-reason tests).
    pub fn stop_reason(self, reason: &str) -> Reply {
        self.with_message_field("stop_reason", json!(reason))
    }

    /// Sets a message's `model` instead of echoing the requested one.
    pub fn model(self, model: &str) -> Reply {
        self.with_message_field("model", json!(model))
    }

    /// Sets any top-level field of a message.
    pub fn with_message_field(mut self, key: &str, value: Value) -> Reply {
        if let ReplyBody::Message(message) = &mut self.body {
            message.insert(key.to_string(), value);
        }
        self
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The JSON body as sent for a request to `model` (`None` for raw bodies).
    pub fn json_for(&self, model: &str) -> Option<Value> {
        match &self.body {
            ReplyBody::Message(message) => {
                let mut message = message.clone();
                message.entry("model").or_insert_with(|| json!(model));
                message
                    .entry("id")
                    .or_insert_with(|| json!(format!("msg_{}", next_id())));
                Some(Value::Object(message))
            }
            ReplyBody::Json(value) => Some(value.clone()),
            ReplyBody::Raw(_) => None,
        }
    }

    fn bytes_for(&self, model: &str) -> Vec<u8> {
        match (&self.body, self.json_for(model)) {
            (ReplyBody::Raw(bytes), _) => bytes.clone(),
            (_, Some(value)) => value.to_string().into_bytes(),
            (_, None) => Vec::new(),
        }
    }
}

/// A response text block, as the API sends it.
pub fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text, "citations": null})
}

/// A response `tool_use` block, as the API sends it.
pub fn tool_use_block(id: &str, name: &str, input: Value) -> Value {
    json!({"type": "tool_use", "id": id, "name": name, "input": input, "caller": {"type": "direct"}})
}

/// A response `thinking` block.
pub fn thinking_block(thinking: &str, signature: &str) -> Value {
    json!({"type": "thinking", "thinking": thinking, "signature": signature})
}

// ---------------------------------------------------------------------------------------------
// Server

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Lower-case names; a repeated header keeps its last value.
    pub headers: BTreeMap<String, String>,
    /// The parsed body, `Value::Null` if it was not JSON.
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_lowercase()).map(String::as_str)
    }

    /// The body's `model`.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }
}

/// The running fake; it stops when dropped.
pub struct FakeAnthropic {
    base_url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Reply>,
    always: Option<Reply>,
}

impl Script {
    fn next(&mut self) -> Option<Reply> {
        self.queue.pop_front().or_else(|| self.always.clone())
    }
}

struct Shared {
    spec: &'static Spec,
    shared_script: Mutex<Script>,
    model_scripts: Mutex<HashMap<String, Script>>,
    requests: Mutex<Vec<RecordedRequest>>,
    violations: Mutex<Vec<String>>,
}

impl FakeAnthropic {
    /// Loads the spec (panics if it is missing) and serves on `127.0.0.1:0` until dropped.
    pub async fn start() -> FakeAnthropic {
        let spec = Spec::get();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind the fake Anthropic server on 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            spec,
            shared_script: Mutex::new(Script::default()),
            model_scripts: Mutex::new(HashMap::new()),
            requests: Mutex::new(Vec::new()),
            violations: Mutex::new(Vec::new()),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        FakeAnthropic {
            base_url: format!("http://127.0.0.1:{port}"),
            shared,
            shutdown: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT`, to use as `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// Queues a reply for the next request of any model.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.shared_script).queue.push_back(reply);
    }

    /// Queues a reply for the next request of `model`.
    pub fn push_for(&self, model: &str, reply: Reply) {
        lock(&self.shared.model_scripts)
            .entry(model.to_string())
            .or_default()
            .queue
            .push_back(reply);
    }

    /// Answers every request of `model` with `reply` once its queue is empty.
    pub fn always_for(&self, model: &str, reply: Reply) {
        lock(&self.shared.model_scripts)
            .entry(model.to_string())
            .or_default()
            .always = Some(reply);
    }

    /// Answers every request with `reply` once the queues are empty.
    pub fn always(&self, reply: Reply) {
        lock(&self.shared.shared_script).always = Some(reply);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The models of the requests so far, in order.
    pub fn models(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.model().unwrap_or_default().to_string())
            .collect()
    }

    /// Every validation failure so far, one line per problem, prefixed by the request number.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.violations).clone()
    }

    /// Panics listing the violations, if any request broke the spec.
    pub fn assert_all_valid(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "requests to the fake Anthropic API broke the spec:\n{}",
            violations.join("\n")
        );
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A poisoned lock only means another handler panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let mut problems = Vec::new();
    let route_ok = method == Method::POST && uri.path() == "/v1/messages";
    if !route_ok {
        problems.push(format!("{method} {}: no such endpoint", uri.path()));
    } else {
        problems.extend(check_headers(&headers));
        match &parsed {
            Some(value) => problems.extend(shared.spec.validate_request(value)),
            None => problems.push("body: not JSON".to_string()),
        }
    }
    let model = parsed
        .as_ref()
        .and_then(|b| b.get("model"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let reply = if !route_ok {
        Reply::error(404, "not_found_error", &problems.join("; "))
    } else if !problems.is_empty() {
        Reply::error(400, "invalid_request_error", &problems.join("; "))
    } else {
        next_reply(&shared, &model)
            .unwrap_or_else(|| Reply::error(500, "api_error", "FakeAnthropic: no reply scripted"))
    };
    {
        let mut requests = lock(&shared.requests);
        let n = requests.len();
        lock(&shared.violations).extend(problems.iter().map(|p| format!("request {n}: {p}")));
        requests.push(RecordedRequest {
            method: method.to_string(),
            path: uri.path().to_string(),
            headers,
            body: parsed.unwrap_or(Value::Null),
            status: reply.status,
        });
    }
    if let Some(delay) = reply.delay {
        tokio::time::sleep(delay).await;
    }
    respond(&reply, &model)
}

fn next_reply(shared: &Shared, model: &str) -> Option<Reply> {
    let from_model = lock(&shared.model_scripts)
        .get_mut(model)
        .and_then(Script::next);
    from_model.or_else(|| lock(&shared.shared_script).next())
}

fn check_headers(headers: &BTreeMap<String, String>) -> Vec<String> {
    let mut problems = Vec::new();
    for name in ["x-api-key", "anthropic-version"] {
        if headers.get(name).is_none_or(|v| v.trim().is_empty()) {
            problems.push(format!("header {name}: required"));
        }
    }
    let content_type = headers.get("content-type").map(String::as_str);
    if !content_type.is_some_and(|c| c.starts_with("application/json")) {
        problems.push(format!(
            "header content-type: expected application/json, got {content_type:?}"
        ));
    }
    problems
}

fn respond(reply: &Reply, model: &str) -> Response {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header("request-id", request_id());
    for (name, value) in &reply.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from(reply.bytes_for(model)))
        .unwrap_or_else(|e| {
            let mut response = Response::new(Body::from(format!("FakeAnthropic: bad reply: {e}")));
            *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            response
        })
}

fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    format!("01Fake{:016}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn request_id() -> String {
    format!("req_{}", next_id())
}

// ---------------------------------------------------------------------------------------------
// Spec validation

/// The OpenAPI document and a validator for the JSON Schema subset it uses.
pub struct Spec {
    doc: Value,
}

impl Spec {
    /// The spec from [`SPEC_ENV`] or [`SPEC_PATH`], read once per process.
    pub fn get() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path = std::env::var(SPEC_ENV)
                .unwrap_or_else(|_| super::shared_dir().join(SPEC_PATH).display().to_string());
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "read the Anthropic OpenAPI spec at {path} (set {SPEC_ENV} to override): {e}"
                )
            });
            let doc: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("parse the Anthropic OpenAPI spec at {path}: {e}"));
            let spec = Spec { doc };
            assert!(
                spec.request_schema().is_some(),
                "{path} has no application/json request body for POST /v1/messages"
            );
            spec
        })
    }

    fn request_schema(&self) -> Option<&Value> {
        self.doc
            .get("paths")?
            .get("/v1/messages")?
            .get("post")?
            .get("requestBody")?
            .get("content")?
            .get("application/json")?
            .get("schema")
    }

    /// Problems of `body` as a `POST /v1/messages` body, `path: problem` each; empty if valid.
    pub fn validate_request(&self, body: &Value) -> Vec<String> {
        let mut problems = Vec::new();
        match self.request_schema() {
            Some(schema) => self.check(schema, body, "", &mut problems),
            None => problems.push("spec: no request schema for POST /v1/messages".into()),
        }
        problems
    }

    /// Problems of `value` against `#/components/schemas/{name}` (e.g. `Message`).
    pub fn validate_component(&self, name: &str, value: &Value) -> Vec<String> {
        let schema = json!({"$ref": format!("#/components/schemas/{name}")});
        let mut problems = Vec::new();
        self.check(&schema, value, "", &mut problems);
        problems
    }

    fn resolve(&self, reference: &str) -> Option<&Value> {
        self.doc.pointer(reference.strip_prefix('#')?)
    }

    /// Follows `$ref`s to the schema that has content.
    fn deref<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        for _ in 0..32 {
            match schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| self.resolve(r))
            {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, problems: &mut Vec<String>) {
        let Some(s) = schema.as_object() else {
            return; // `true` / `{}`: anything goes
        };
        if let Some(reference) = s.get("$ref").and_then(Value::as_str) {
            match self.resolve(reference) {
                Some(target) => self.check(target, value, path, problems),
                None => problems.push(format!("{}: unresolvable $ref {reference}", at(path))),
            }
        }
        let mapping = s.get("discriminator").and_then(|d| {
            Some((
                d.get("propertyName")?.as_str()?,
                d.get("mapping")?.as_object()?,
            ))
        });
        match (mapping, value.as_object()) {
            (Some((property, mapping)), Some(object)) => {
                let where_ = join(path, property);
                match object.get(property) {
                    None => problems.push(format!("{where_}: required")),
                    Some(Value::String(tag)) => match mapping.get(tag).and_then(Value::as_str) {
                        Some(reference) => {
                            self.check(&json!({"$ref": reference}), value, path, problems)
                        }
                        None => {
                            let known: Vec<&String> = mapping.keys().collect();
                            problems.push(format!(
                                "{where_}: unknown value {tag:?}, expected one of {known:?}"
                            ));
                        }
                    },
                    Some(other) => {
                        problems.push(format!("{where_}: expected string, got {}", kind(other)))
                    }
                }
            }
            _ => {
                for keyword in ["anyOf", "oneOf"] {
                    if let Some(branches) = s.get(keyword).and_then(Value::as_array) {
                        self.check_union(branches, value, path, problems);
                    }
                }
            }
        }
        if let Some(expected) = s.get("type")
            && !type_matches(expected, value)
        {
            problems.push(format!(
                "{}: expected {}, got {}",
                at(path),
                type_names(expected),
                kind(value)
            ));
            return;
        }
        if let Some(constant) = s.get("const")
            && value != constant
        {
            problems.push(format!("{}: must be {constant}, got {value}", at(path)));
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            problems.push(format!(
                "{}: {value} is not one of {}",
                at(path),
                Value::from(allowed.clone())
            ));
        }
        match value {
            Value::Object(object) => self.check_object(s, object, path, problems),
            Value::Array(items) => {
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(item_schema, item, &format!("{path}[{i}]"), problems);
                    }
                }
            }
            Value::String(text) => check_string(s, text, path, problems),
            Value::Number(number) => {
                check_number(s, number.as_f64().unwrap_or(f64::NAN), path, problems)
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn check_object(
        &self,
        s: &Map<String, Value>,
        object: &Map<String, Value>,
        path: &str,
        problems: &mut Vec<String>,
    ) {
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str()
                && !object.contains_key(name)
            {
                problems.push(format!("{}: required", join(path, name)));
            }
        }
        let properties = s.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(property) => self.check(property, item, &join(path, key), problems),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        problems.push(format!("{}: unknown field", join(path, key)))
                    }
                    Some(extra @ Value::Object(_)) => {
                        self.check(extra, item, &join(path, key), problems)
                    }
                    _ => {}
                },
            }
        }
    }

    /// Valid if any branch is. Otherwise report the first plausible branch's problems (the one
    /// whose type and `const` properties fit the value), as that is most likely what the
    /// client meant; with none plausible, say which types were allowed.
    fn check_union(
        &self,
        branches: &[Value],
        value: &Value,
        path: &str,
        problems: &mut Vec<String>,
    ) {
        let mut reported: Option<Vec<String>> = None;
        for branch in branches {
            let mut found = Vec::new();
            self.check(branch, value, path, &mut found);
            if found.is_empty() {
                return;
            }
            if reported.is_none() && self.plausible(branch, value) {
                reported = Some(found);
            }
        }
        match reported {
            Some(found) => problems.extend(found),
            None => {
                let mut types: Vec<String> = branches
                    .iter()
                    .filter_map(|b| self.deref(b).get("type").map(type_names))
                    .collect();
                types.dedup();
                let expected = if types.is_empty() {
                    "one of the allowed shapes".to_string()
                } else {
                    types.join(" or ")
                };
                problems.push(format!(
                    "{}: expected {expected}, got {}",
                    at(path),
                    kind(value)
                ));
            }
        }
    }

    fn plausible(&self, branch: &Value, value: &Value) -> bool {
        let branch = self.deref(branch);
        if branch.get("type").is_some_and(|t| !type_matches(t, value)) {
            return false;
        }
        let (Some(properties), Some(object)) = (
            branch.get("properties").and_then(Value::as_object),
            value.as_object(),
        ) else {
            return true;
        };
        let required: Vec<&str> = branch
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        properties.iter().all(|(key, property)| {
            match (self.deref(property).get("const"), object.get(key)) {
                (Some(constant), Some(actual)) => constant == actual,
                (Some(_), None) => !required.contains(&key.as_str()),
                (None, _) => true,
            }
        })
    }
}

fn check_string(s: &Map<String, Value>, text: &str, path: &str, problems: &mut Vec<String>) {
    let length = text.chars().count() as u64;
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && length < min
    {
        problems.push(format!("{}: shorter than {min} characters", at(path)));
    }
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && length > max
    {
        problems.push(format!("{}: longer than {max} characters", at(path)));
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str)
        && pattern_matches(pattern, text) == Some(false)
    {
        problems.push(format!("{}: {text:?} does not match {pattern}", at(path)));
    }
}

fn check_number(s: &Map<String, Value>, n: f64, path: &str, problems: &mut Vec<String>) {
    let bound = |key: &str| s.get(key).and_then(Value::as_f64);
    if bound("minimum").is_some_and(|min| n < min)
        || bound("exclusiveMinimum").is_some_and(|min| n <= min)
    {
        problems.push(format!("{}: {n} is below the minimum", at(path)));
    }
    if bound("maximum").is_some_and(|max| n > max)
        || bound("exclusiveMaximum").is_some_and(|max| n >= max)
    {
        problems.push(format!("{}: {n} is above the maximum", at(path)));
    }
}

/// Matches the anchored patterns the spec uses, `^literal[class]+$` and
/// `^literal[class]{m,n}$`; `None` (not checked) for any other shape.
fn pattern_matches(pattern: &str, text: &str) -> Option<bool> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let (literal, rest) = body.split_once('[')?;
    let (class, quantifier) = rest.split_once(']')?;
    if !literal
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let (min, max) = match quantifier {
        "+" => (1, usize::MAX),
        "*" => (0, usize::MAX),
        q => {
            let (lo, hi) = q.strip_prefix('{')?.strip_suffix('}')?.split_once(',')?;
            (lo.parse().ok()?, hi.parse().ok()?)
        }
    };
    let class: Vec<char> = class.chars().collect();
    let in_class = |c: char| {
        let mut i = 0;
        while i < class.len() {
            if i + 2 < class.len() && class[i + 1] == '-' {
                if (class[i]..=class[i + 2]).contains(&c) {
                    return true;
                }
                i += 3;
            } else {
                if class[i] == c {
                    return true;
                }
                i += 1;
            }
        }
        false
    };
    let Some(tail) = text.strip_prefix(literal) else {
        return Some(false);
    };
    let count = tail.chars().count();
    Some(tail.chars().all(in_class) && count >= min && count <= max)
}

fn type_matches(expected: &Value, value: &Value) -> bool {
    match expected {
        Value::String(t) => match t.as_str() {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            "number" => value.is_number(),
            "integer" => {
                value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            _ => true,
        },
        Value::Array(types) => types.iter().any(|t| type_matches(t, value)),
        _ => true,
    }
}

fn type_names(expected: &Value) -> String {
    match expected {
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        other => other.as_str().unwrap_or("?").to_string(),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "(body)" } else { path }
}
