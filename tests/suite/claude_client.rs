//! The Anthropic client against the fake Anthropic server: agent turns, retries, fallback,
//! errors, prompt caching and usage, with every request checked against the OpenAPI spec.

use std::time::Duration;

use crate::common::anthropic::{
    FakeAnthropic, FakeUsage, Reply, Spec, text_block, thinking_block, tool_use_block,
};
use serde_json::{Value, json};
use steward::agent::claude::{
    ApiKey, Attempt, AttemptOutcome, Claude, ClaudeConfig, ClaudeError, ContentBlock, InputMessage,
    Message, MessageRequest, Price, StopReason, ToolDefinition, ToolResult, ToolResultContent,
    ToolUse, Usage, cost_usd,
};

const KEY: &str = "sk-ant-api03-test-key-0123456789";
const KEY_ENV: &str = "STEWARD_ANTHROPIC_API_KEY";
const PRIMARY: &str = "claude-primary";
const FALLBACK: &str = "claude-fallback";

/// Deterministic, fast settings: no backoff jitter (base and cap 0) and a 5 ms cap on
/// `retry-after`, so attempt logs can be compared whole.
fn config(base_url: &str, models: &[&str]) -> ClaudeConfig {
    let mut config = ClaudeConfig::new(
        ApiKey::new(KEY),
        models.iter().map(|m| m.to_string()).collect(),
    );
    // The trailing slash must not produce `//v1/messages`.
    config.base_url = format!("{base_url}/");
    config.api_key_env = KEY_ENV.to_string();
    config.request_timeout = Duration::from_secs(10);
    config.backoff_base = Duration::ZERO;
    config.backoff_cap = Duration::ZERO;
    config.retry_after_cap = Duration::from_millis(5);
    config
}

fn client(fake: &FakeAnthropic, models: &[&str]) -> Claude {
    Claude::new(config(&fake.base_url(), models)).unwrap()
}

fn question() -> MessageRequest {
    MessageRequest::new(1024).message(InputMessage::user("Why did the orders table stop growing?"))
}

fn query_tool() -> ToolDefinition {
    ToolDefinition::new(
        "query_table",
        "Run a read-only SQL query",
        json!({"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]}),
    )
}

fn answered(model: &str) -> Attempt {
    Attempt {
        model: model.to_string(),
        outcome: AttemptOutcome::Answered,
        retry_after_ms: None,
        waited_ms: 0,
    }
}

fn http(model: &str, status: u16, error_type: &str, message: &str, waited_ms: u64) -> Attempt {
    Attempt {
        model: model.to_string(),
        outcome: AttemptOutcome::Http {
            status,
            error_type: error_type.to_string(),
            message: message.to_string(),
        },
        retry_after_ms: None,
        waited_ms,
    }
}

const RATE_LIMIT_MESSAGE: &str = "This request would exceed the rate limit for your organization";

#[tokio::test]
async fn tool_use_then_tool_result_then_end_turn() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::tool_use(vec![(
        "toolu_01",
        "query_table",
        json!({"sql": "SELECT count(*) FROM orders"}),
    )]));
    fake.push(Reply::text("Ingestion stopped at 02:00."));
    let claude = client(&fake, &[PRIMARY]);

    let mut request = question().system("You are Steward.").tool(query_tool());
    let first = claude.send(&request).await.unwrap();
    assert_eq!(first.message.stop_reason, Some(StopReason::ToolUse));
    assert_eq!(
        first.message.tool_uses(),
        vec![&ToolUse {
            id: "toolu_01".into(),
            name: "query_table".into(),
            input: json!({"sql": "SELECT count(*) FROM orders"}),
        }]
    );

    request.messages.push(first.message.to_assistant_turn());
    request
        .messages
        .push(InputMessage::tool_results([ToolResult::ok(
            "toolu_01",
            "count = 0 since 02:00",
        )]));
    let second = claude.send(&request).await.unwrap();
    assert_eq!(second.message.stop_reason, Some(StopReason::EndTurn));
    assert_eq!(second.message.text(), "Ingestion stopped at 02:00.");
    assert_eq!(second.attempts, vec![answered(PRIMARY)]);

    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].body,
        json!({
            "model": PRIMARY,
            "max_tokens": 1024,
            "system": [{"type": "text", "text": "You are Steward.", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Why did the orders table stop growing?"}]},
                {"role": "assistant", "content": [{
                    "type": "tool_use", "id": "toolu_01", "name": "query_table",
                    "input": {"sql": "SELECT count(*) FROM orders"},
                }]},
                {"role": "user", "content": [{
                    "type": "tool_result", "tool_use_id": "toolu_01", "content": "count = 0 since 02:00",
                }]},
            ],
            "tools": [{
                "name": "query_table",
                "description": "Run a read-only SQL query",
                "input_schema": {"type": "object", "properties": {"sql": {"type": "string"}}, "required": ["sql"]},
                "cache_control": {"type": "ephemeral"},
            }],
        })
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn parallel_tool_uses_are_parsed_in_order() {
    let fake = FakeAnthropic::start().await;
    fake.push(
        Reply::message(
            vec![
                text_block("Checking three things."),
                tool_use_block("toolu_a", "query_table", json!({"sql": "SELECT 1"})),
                tool_use_block("toolu_b", "list_tables", json!({})),
                tool_use_block("toolu_c", "query_table", json!({"sql": "SELECT 3"})),
            ],
            "tool_use",
        )
        .with_message_field("id", json!("msg_parallel")),
    );
    let claude = client(&fake, &[PRIMARY]);
    let response = claude.send(&question()).await.unwrap();
    let tool_use = |id: &str, name: &str, input: Value| {
        ContentBlock::ToolUse(ToolUse {
            id: id.into(),
            name: name.into(),
            input,
        })
    };
    assert_eq!(
        response.message,
        Message {
            id: "msg_parallel".into(),
            model: PRIMARY.into(),
            content: vec![
                ContentBlock::text("Checking three things."),
                tool_use("toolu_a", "query_table", json!({"sql": "SELECT 1"})),
                tool_use("toolu_b", "list_tables", json!({})),
                tool_use("toolu_c", "query_table", json!({"sql": "SELECT 3"})),
            ],
            stop_reason: Some(StopReason::ToolUse),
            stop_sequence: None,
            usage: Usage {
                input_tokens: 12,
                output_tokens: 6,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 0,
            },
        }
    );
    let ids: Vec<&str> = response
        .message
        .tool_uses()
        .iter()
        .map(|t| t.id.as_str())
        .collect();
    assert_eq!(ids, ["toolu_a", "toolu_b", "toolu_c"]);

    // The answers go back in one user turn; an error result and a block list are valid too.
    let request = question()
        .message(response.message.to_assistant_turn())
        .message(InputMessage::tool_results([
            ToolResult::ok("toolu_a", "1"),
            ToolResult::error("toolu_b", "permission denied on schema gold"),
            ToolResult {
                tool_use_id: "toolu_c".into(),
                content: ToolResultContent::Blocks(vec![ContentBlock::text("3")]),
                is_error: false,
            },
        ]));
    fake.push(Reply::text("done"));
    claude.send(&request).await.unwrap();
    assert_eq!(
        fake.requests()[1].body["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_a", "content": "1"},
            {"type": "tool_result", "tool_use_id": "toolu_b", "content": "permission denied on schema gold", "is_error": true},
            {"type": "tool_result", "tool_use_id": "toolu_c", "content": [{"type": "text", "text": "3"}]},
        ]})
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn rate_limit_retry_after_is_honoured_and_capped() {
    let fake = FakeAnthropic::start().await;
    // retry-after: 1 s is asked for; the 5 ms cap of the test config is what is waited.
    fake.push(Reply::rate_limited().retry_after(1));
    // retry-after-ms wins over retry-after.
    fake.push(Reply::rate_limited().retry_after(30).retry_after_ms(3));
    fake.push(Reply::text("ok"));
    let response = client(&fake, &[PRIMARY]).send(&question()).await.unwrap();
    let limited = |asked, waited| Attempt {
        retry_after_ms: Some(asked),
        ..http(PRIMARY, 429, "rate_limit_error", RATE_LIMIT_MESSAGE, waited)
    };
    assert_eq!(
        response.attempts,
        vec![limited(1000, 5), limited(3, 3), answered(PRIMARY)]
    );
    assert_eq!(
        response.summary(),
        "answered by claude-primary after 3 attempts \
         (claude-primary: HTTP 429 rate_limit_error x2, then answered)"
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn overloaded_then_success() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::overloaded());
    fake.push(Reply::text("ok"));
    let response = client(&fake, &[PRIMARY]).send(&question()).await.unwrap();
    assert_eq!(response.message.text(), "ok");
    assert_eq!(
        response.attempts,
        vec![
            http(PRIMARY, 529, "overloaded_error", "Overloaded", 0),
            answered(PRIMARY)
        ]
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn server_errors_then_success() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::server_error());
    // A proxy's HTML page instead of the API's error JSON.
    fake.push(Reply::raw(502, b"<html>502 Bad Gateway</html>".to_vec()));
    fake.push(Reply::error(503, "api_error", "Service unavailable"));
    fake.push(Reply::text("ok"));
    let response = client(&fake, &[PRIMARY]).send(&question()).await.unwrap();
    assert_eq!(
        response.attempts,
        vec![
            http(PRIMARY, 500, "api_error", "Internal server error", 0),
            http(PRIMARY, 502, "", "<html>502 Bad Gateway</html>", 0),
            http(PRIMARY, 503, "api_error", "Service unavailable", 0),
            answered(PRIMARY),
        ]
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn timeout_then_success() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::slow(Duration::from_secs(30)));
    fake.push(Reply::text("fast"));
    let mut config = config(&fake.base_url(), &[PRIMARY]);
    config.request_timeout = Duration::from_millis(500);
    let response = Claude::new(config)
        .unwrap()
        .send(&question())
        .await
        .unwrap();
    assert_eq!(response.message.text(), "fast");
    assert_eq!(
        response.attempts,
        vec![
            Attempt {
                outcome: AttemptOutcome::Timeout,
                ..answered(PRIMARY)
            },
            answered(PRIMARY)
        ]
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn malformed_bodies_are_retried() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::malformed());
    // Valid JSON but not a Message.
    fake.push(Reply::json(
        200,
        json!({"id": "msg_x", "content": "not a list"}),
    ));
    fake.push(Reply::text("ok"));
    let response = client(&fake, &[PRIMARY]).send(&question()).await.unwrap();
    assert_eq!(response.message.text(), "ok");
    let details: Vec<&str> = response
        .attempts
        .iter()
        .map(|a| match &a.outcome {
            AttemptOutcome::Malformed { detail } => detail.as_str(),
            AttemptOutcome::Answered => "answered",
            other => panic!("unexpected outcome {other:?}"),
        })
        .collect();
    assert_eq!(details.len(), 3);
    assert!(
        details[0].starts_with("HTTP 200: EOF while parsing"),
        "{details:?}"
    );
    assert!(
        details[1].starts_with("HTTP 200: invalid type"),
        "{details:?}"
    );
    assert_eq!(details[2], "answered");
    fake.assert_all_valid();
}

#[tokio::test]
async fn exhausted_primary_falls_back_to_the_next_model() {
    let fake = FakeAnthropic::start().await;
    fake.always_for(PRIMARY, Reply::overloaded());
    fake.push_for(FALLBACK, Reply::text("from the fallback"));
    let request = question().system("You are Steward.").tool(query_tool());
    let response = client(&fake, &[PRIMARY, FALLBACK])
        .send(&request)
        .await
        .unwrap();

    assert_eq!(response.model, FALLBACK);
    assert_eq!(response.message.model, FALLBACK);
    assert_eq!(response.message.text(), "from the fallback");
    let overloaded = || http(PRIMARY, 529, "overloaded_error", "Overloaded", 0);
    assert_eq!(
        response.attempts,
        vec![
            overloaded(),
            overloaded(),
            overloaded(),
            overloaded(),
            answered(FALLBACK)
        ]
    );
    assert_eq!(
        response.summary(),
        "answered by claude-fallback after 5 attempts (claude-primary: HTTP 529 overloaded_error x4 \
         (last: HTTP 529 overloaded_error: Overloaded); claude-fallback: answered)"
    );

    let sent = fake.requests();
    assert_eq!(
        fake.models(),
        [PRIMARY, PRIMARY, PRIMARY, PRIMARY, FALLBACK]
    );
    // The same request, only the model swapped.
    let mut expected = sent[0].body.clone();
    expected["model"] = json!(FALLBACK);
    assert_eq!(sent[4].body, expected);
    fake.assert_all_valid();
}

#[tokio::test]
async fn unknown_model_moves_to_the_next_model_at_once() {
    let fake = FakeAnthropic::start().await;
    fake.push_for(
        PRIMARY,
        Reply::error(404, "not_found_error", "model: claude-primary"),
    );
    fake.push_for(FALLBACK, Reply::text("ok"));
    let response = client(&fake, &[PRIMARY, FALLBACK])
        .send(&question())
        .await
        .unwrap();
    assert_eq!(
        response.attempts,
        vec![
            http(PRIMARY, 404, "not_found_error", "model: claude-primary", 0),
            answered(FALLBACK)
        ]
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn authentication_failure_names_the_env_var_and_never_the_key() {
    for (status, error_type) in [(401, "authentication_error"), (403, "permission_error")] {
        let fake = FakeAnthropic::start().await;
        // Even a server (or proxy) that echoes the key must not get it into the error.
        fake.always(Reply::error(
            status,
            error_type,
            &format!("invalid x-api-key {KEY}"),
        ));
        let err = client(&fake, &[PRIMARY, FALLBACK])
            .send(&question())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(
            text,
            format!(
                "Anthropic authentication failed (HTTP {status} {error_type}: invalid x-api-key \
                 [REDACTED]): check the API key in env var {KEY_ENV}"
            )
        );
        assert!(
            matches!(err, ClaudeError::Authentication { ref env_var, .. } if env_var == KEY_ENV)
        );
        assert!(!format!("{err:?}").contains(KEY));
        // Neither retried nor passed to the fallback.
        assert_eq!(fake.models(), [PRIMARY]);
        assert_eq!(fake.requests()[0].header("x-api-key"), Some(KEY));
        fake.assert_all_valid();
    }
}

#[tokio::test]
async fn invalid_requests_fail_without_retry_or_fallback() {
    for status in [400, 413] {
        let fake = FakeAnthropic::start().await;
        fake.always(Reply::error(
            status,
            "invalid_request_error",
            "max_tokens: too large",
        ));
        let err = client(&fake, &[PRIMARY, FALLBACK])
            .send(&question())
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Anthropic rejected the request to claude-primary \
                 (HTTP {status} invalid_request_error: max_tokens: too large)"
            )
        );
        assert_eq!(fake.models(), [PRIMARY]);
        fake.assert_all_valid();
    }
}

#[tokio::test]
async fn all_models_failing_reports_each_models_last_error() {
    let fake = FakeAnthropic::start().await;
    fake.always_for(PRIMARY, Reply::rate_limited().retry_after(2));
    fake.always_for(FALLBACK, Reply::server_error());
    let mut config = config(&fake.base_url(), &[PRIMARY, FALLBACK]);
    config.max_retries = 1;
    let err = Claude::new(config)
        .unwrap()
        .send(&question())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no model answered: claude-primary: HTTP 429 rate_limit_error x2 (last: HTTP 429 \
             rate_limit_error: {RATE_LIMIT_MESSAGE}); claude-fallback: HTTP 500 api_error x2 \
             (last: HTTP 500 api_error: Internal server error)"
        )
    );
    let ClaudeError::AllModelsFailed { attempts } = err else {
        panic!("expected AllModelsFailed, got {err:?}");
    };
    let limited = |waited| Attempt {
        retry_after_ms: Some(2000),
        ..http(PRIMARY, 429, "rate_limit_error", RATE_LIMIT_MESSAGE, waited)
    };
    let failed = || http(FALLBACK, 500, "api_error", "Internal server error", 0);
    // No wait after a model's last attempt: the next model starts at once.
    assert_eq!(attempts, vec![limited(5), limited(0), failed(), failed()]);
    fake.assert_all_valid();
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    // A port that was free a moment ago: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = config(&format!("http://127.0.0.1:{port}"), &[PRIMARY]);
    config.max_retries = 1;
    let err = Claude::new(config)
        .unwrap()
        .send(&question())
        .await
        .unwrap_err();
    let ClaudeError::AllModelsFailed { attempts } = &err else {
        panic!("expected AllModelsFailed, got {err:?}");
    };
    assert_eq!(attempts.len(), 2);
    for attempt in attempts {
        assert!(
            matches!(&attempt.outcome, AttemptOutcome::Connection { detail } if !detail.is_empty()),
            "{attempt:?}"
        );
    }
    assert!(
        err.to_string()
            .starts_with("no model answered: claude-primary: connection error x2")
    );
}

#[tokio::test]
async fn unknown_content_blocks_round_trip_verbatim() {
    let fake = FakeAnthropic::start().await;
    let thinking = thinking_block(
        "The table has no rows since 02:00...",
        "EqQBCkgIARABGAIiQL+sig==",
    );
    let redacted = json!({"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"});
    fake.push(Reply::message(
        vec![
            thinking.clone(),
            redacted.clone(),
            text_block(""),
            tool_use_block("toolu_1", "query_table", json!({"sql": "SELECT 1"})),
        ],
        "tool_use",
    ));
    fake.push(Reply::text("done"));
    let claude = client(&fake, &[PRIMARY]);
    let first = claude.send(&question()).await.unwrap();
    assert_eq!(
        first.message.content[0],
        ContentBlock::Other(thinking.clone())
    );
    assert_eq!(
        first.message.content[1],
        ContentBlock::Other(redacted.clone())
    );

    let request = question()
        .message(first.message.to_assistant_turn())
        .message(InputMessage::tool_results([ToolResult::ok("toolu_1", "1")]));
    claude.send(&request).await.unwrap();
    // Thinking blocks byte for byte, the empty text block dropped (the API rejects it).
    assert_eq!(
        fake.requests()[1].body["messages"][1],
        json!({"role": "assistant", "content": [
            thinking,
            redacted,
            {"type": "tool_use", "id": "toolu_1", "name": "query_table", "input": {"sql": "SELECT 1"}},
        ]})
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn unknown_stop_reason_is_kept() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::text("partial").stop_reason("model_context_window_exceeded"));
    fake.push(Reply::text("paused").stop_reason("pause_turn"));
    let claude = client(&fake, &[PRIMARY]);
    let first = claude.send(&question()).await.unwrap();
    assert_eq!(
        first.message.stop_reason,
        Some(StopReason::Other("model_context_window_exceeded".into()))
    );
    let second = claude.send(&question()).await.unwrap();
    assert_eq!(second.message.stop_reason, Some(StopReason::PauseTurn));
    fake.assert_all_valid();
}

#[tokio::test]
async fn cache_control_marks_the_last_system_block_and_the_last_tool() {
    let fake = FakeAnthropic::start().await;
    fake.always(Reply::text("ok"));
    let claude = client(&fake, &[PRIMARY]);
    let list_tables = ToolDefinition::new("list_tables", "", json!({"type": "object"}));
    let request = question()
        .system("You are Steward.")
        .system("Runbook: check ingestion first.")
        .tool(query_tool())
        .tool(list_tables);
    claude.send(&request).await.unwrap();
    claude
        .send(&request.clone().without_prompt_caching())
        .await
        .unwrap();

    let sent = fake.requests();
    let ephemeral = json!({"type": "ephemeral"});
    assert_eq!(
        sent[0].body["system"],
        json!([
            {"type": "text", "text": "You are Steward."},
            {"type": "text", "text": "Runbook: check ingestion first.", "cache_control": ephemeral},
        ])
    );
    assert_eq!(sent[0].body["tools"][0].get("cache_control"), None);
    assert_eq!(
        sent[0].body["tools"][1],
        json!({"name": "list_tables", "input_schema": {"type": "object"}, "cache_control": ephemeral})
    );
    assert!(!sent[1].body.to_string().contains("cache_control"));
    fake.assert_all_valid();
}

#[tokio::test]
async fn usage_adds_up_and_costs_what_the_price_says() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::text("a").usage(FakeUsage {
        input: 1_000,
        output: 500,
        cache_write: 20_000,
        cache_read: 0,
    }));
    fake.push(Reply::text("b").usage(FakeUsage {
        input: 2_000,
        output: 300,
        cache_write: 0,
        cache_read: 20_000,
    }));
    let claude = client(&fake, &[PRIMARY]);
    let mut total = Usage::default();
    for _ in 0..2 {
        total.add(&claude.send(&question()).await.unwrap().message.usage);
    }
    assert_eq!(
        total,
        Usage {
            input_tokens: 3_000,
            output_tokens: 800,
            cache_creation_input_tokens: 20_000,
            cache_read_input_tokens: 20_000,
        }
    );
    // 3000 * 3 + 800 * 15 + 20000 * 3.75 + 20000 * 0.30 = 9000 + 12000 + 75000 + 6000
    // = 102000 USD-per-million-tokens units = 0.102 USD.
    let price = Price {
        input: 3.0,
        output: 15.0,
        cache_write: 3.75,
        cache_read: 0.30,
    };
    assert!(
        (cost_usd(&total, &price) - 0.102).abs() < 1e-12,
        "{}",
        cost_usd(&total, &price)
    );
    fake.assert_all_valid();
}

#[tokio::test]
async fn headers_and_endpoint() {
    let fake = FakeAnthropic::start().await;
    fake.push(Reply::text("ok"));
    client(&fake, &[PRIMARY]).send(&question()).await.unwrap();
    let sent = &fake.requests()[0];
    assert_eq!(
        (sent.method.as_str(), sent.path.as_str(), sent.status),
        ("POST", "/v1/messages", 200)
    );
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    fake.assert_all_valid();
}

// ---------------------------------------------------------------------------------------------
// The fake itself: its validator must be able to fail, and its replies must match the spec.

#[test]
fn validator_rejects_what_the_api_rejects() {
    let spec = Spec::get();
    let valid = json!({
        "model": "claude-x",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "t", "signature": "sig"},
                {"type": "tool_use", "id": "toolu_1", "name": "q", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "x"}], "is_error": true},
            ]},
        ],
        "tools": [{"name": "q", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
    });
    assert_eq!(spec.validate_request(&valid), Vec::<String>::new());

    let broken = |pointer: &str, change: &dyn Fn(&mut Value)| {
        let mut body = valid.clone();
        change(body.pointer_mut(pointer).unwrap());
        spec.validate_request(&body)
    };
    let remove = |key: &'static str| {
        move |v: &mut Value| {
            v.as_object_mut().unwrap().remove(key);
        }
    };
    let set = |key: &'static str, to: Value| {
        move |v: &mut Value| {
            v[key] = to.clone();
        }
    };
    assert_eq!(broken("", &remove("max_tokens")), ["max_tokens: required"]);
    assert_eq!(
        broken("/messages/2/content/0", &remove("tool_use_id")),
        ["messages[2].content[0].tool_use_id: required"]
    );
    assert_eq!(
        broken("", &set("max_tokens", json!("100"))),
        ["max_tokens: expected integer, got string"]
    );
    assert_eq!(
        broken("", &set("temprature", json!(1))),
        ["temprature: unknown field"]
    );
    assert_eq!(
        broken("/messages/0", &set("role", json!("system"))),
        [r#"messages[0].role: "system" is not one of ["user","assistant"]"#]
    );
    assert_eq!(
        broken("/messages/1/content/1", &set("id", json!("toolu 1!"))),
        [r#"messages[1].content[1].id: "toolu 1!" does not match ^[a-zA-Z0-9_-]+$"#]
    );
    assert_eq!(
        broken("/messages/1/content/0", &remove("signature")),
        ["messages[1].content[0].signature: required"]
    );
    assert_eq!(
        broken("/messages/1/content/0", &set("type", json!("musing"))),
        [format!(
            "messages[1].content[0].type: unknown value \"musing\", expected one of {:?}",
            [
                "bash_code_execution_tool_result",
                "code_execution_tool_result",
                "container_upload",
                "document",
                "image",
                "redacted_thinking",
                "search_result",
                "server_tool_use",
                "text",
                "text_editor_code_execution_tool_result",
                "thinking",
                "tool_result",
                "tool_search_tool_result",
                "tool_use",
                "web_fetch_tool_result",
                "web_search_tool_result",
            ]
        )]
    );
    assert_eq!(
        broken("/system/0", &set("text", json!(""))),
        ["system[0].text: shorter than 1 characters"]
    );
    assert_eq!(
        broken(
            "/system/0",
            &set("cache_control", json!({"type": "forever"}))
        ),
        [r#"system[0].cache_control.type: unknown value "forever", expected one of ["ephemeral"]"#]
    );
    assert_eq!(
        broken("/messages/0", &set("content", json!(42))),
        ["messages[0].content: expected string or array, got number"]
    );
    assert_eq!(
        broken("/tools/0", &remove("input_schema")),
        ["tools[0].input_schema: required"]
    );
}

#[tokio::test]
async fn invalid_requests_get_400_and_are_recorded() {
    let fake = FakeAnthropic::start().await;
    fake.always(Reply::text("should not be sent"));
    let http = reqwest::Client::new();
    let body = json!({
        "model": "claude-x",
        "messages": [{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}],
    });
    let response = http
        .post(format!("{}/v1/messages", fake.base_url()))
        .header("x-api-key", "k")
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let error: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(
        error["error"],
        json!({
            "type": "invalid_request_error",
            "message": "header anthropic-version: required; max_tokens: required; \
                        messages[0].content[0].tool_use_id: required",
        })
    );
    assert_eq!(
        fake.violations(),
        [
            "request 0: header anthropic-version: required",
            "request 0: max_tokens: required",
            "request 0: messages[0].content[0].tool_use_id: required",
        ]
    );
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.assert_all_valid()))
        .unwrap_err();
    let text = panic.downcast_ref::<String>().unwrap();
    assert!(
        text.contains("messages[0].content[0].tool_use_id: required"),
        "{text}"
    );
}

#[test]
fn fake_replies_match_the_spec() {
    let spec = Spec::get();
    let messages = [
        Reply::text("hello"),
        Reply::tool_use(vec![("toolu_1", "q", json!({"a": 1}))]),
        Reply::message(
            vec![thinking_block("t", "sig"), text_block("x")],
            "end_turn",
        ),
        Reply::slow(Duration::from_millis(1)),
    ];
    for reply in messages {
        let body = reply.json_for("claude-x").unwrap();
        assert_eq!(
            spec.validate_component("Message", &body),
            Vec::<String>::new(),
            "{body}"
        );
    }
    let errors = [
        Reply::rate_limited(),
        Reply::overloaded(),
        Reply::server_error(),
        Reply::error(401, "authentication_error", "invalid x-api-key"),
    ];
    for reply in errors {
        let body = reply.json_for("claude-x").unwrap();
        assert_eq!(
            spec.validate_component("ErrorResponse", &body),
            Vec::<String>::new(),
            "{body}"
        );
    }
    // And the validator is not a rubber stamp for responses either.
    let mut bad = Reply::text("x").json_for("claude-x").unwrap();
    bad["usage"]
        .as_object_mut()
        .unwrap()
        .remove("output_tokens");
    assert_eq!(
        spec.validate_component("Message", &bad),
        ["usage.output_tokens: required"]
    );
}
