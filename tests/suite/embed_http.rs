//! HttpEmbedder against a fake OpenAI-compatible `/v1/embeddings` (axum on 127.0.0.1) that
//! speaks the OpenAI wire format: `{"object":"list","data":[{"object":"embedding","index":i,
//! "embedding":[...]}],"model":..,"usage":..}`.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use steward::rag::embed::{EmbedError, Embedder, HttpEmbedder, HttpEmbedderConfig};

const KEY: &str = "sk-test-0123456789-SECRET";

#[derive(Clone)]
struct Fake {
    dimension: usize,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// Answers with one vector per input, `[len(text), position, 1, 0, ...]`, listed in reverse
/// order (the `index` field is what ties a vector to its input). A wrong key gets OpenAI's
/// 401, which echoes the key back, as the real service does (partly masked there).
async fn embeddings(
    State(fake): State<Fake>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    fake.requests.lock().unwrap().push(body.clone());
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {KEY}") {
        let given = auth.trim_start_matches("Bearer ");
        let error = json!({"error": {
            "message": format!("Incorrect API key provided: {given}."),
            "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
        return (StatusCode::UNAUTHORIZED, Json(error)).into_response();
    }
    let inputs = body["input"].as_array().cloned().unwrap_or_default();
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut v = vec![0.0f32; fake.dimension];
            v[0] = text.as_str().unwrap_or("").len() as f32;
            v[1] = i as f32;
            v[2] = 1.0;
            json!({"object": "embedding", "index": i, "embedding": v})
        })
        .collect();
    data.reverse();
    Json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": 3, "total_tokens": 3}
    }))
    .into_response()
}

/// Serves the fake on an ephemeral port; returns the `/v1` base URL and the request log.
async fn serve(dimension: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(Fake {
            dimension,
            requests: Arc::clone(&requests),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/v1"), requests)
}

fn config(base_url: &str, dimension: usize) -> HttpEmbedderConfig {
    HttpEmbedderConfig {
        batch_size: 2,
        ..HttpEmbedderConfig::new(base_url, "text-embedding-3-small", dimension)
    }
}

fn texts(n: usize) -> Vec<String> {
    (0..n).map(|i| "x".repeat(i + 1)).collect()
}

#[tokio::test]
async fn batches_keeps_order_and_normalises() {
    let (url, requests) = serve(8).await;
    let e = HttpEmbedder::with_api_key(config(&url, 8), Some(KEY.to_owned())).unwrap();
    assert_eq!(e.model_id(), "text-embedding-3-small");
    assert_eq!(e.dimension(), 8);

    let got = e.embed(&texts(5)).await.unwrap();
    assert_eq!(got.len(), 5);
    for (i, v) in got.iter().enumerate() {
        // Input i has length i+1 and is position i % 2 of its batch of 2.
        let raw = [(i + 1) as f32, (i % 2) as f32, 1.0];
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
        for (got, want) in v.iter().zip(raw) {
            assert!((got - want / norm).abs() < 1e-6, "vector {i}: {v:?}");
        }
        assert!(v[3..].iter().all(|x| *x == 0.0));
    }

    let requests = requests.lock().unwrap();
    assert_eq!(requests.len(), 3, "5 texts in batches of 2");
    assert_eq!(requests[0]["model"], "text-embedding-3-small");
    assert_eq!(requests[0]["input"], json!(["x", "xx"]));
    assert_eq!(
        requests[0].as_object().unwrap().len(),
        2,
        "only model and input"
    );
    assert_eq!(requests[2]["input"], json!(["xxxxx"]));
}

#[tokio::test]
async fn empty_input_sends_no_request() {
    let (url, requests) = serve(8).await;
    let e = HttpEmbedder::with_api_key(config(&url, 8), Some(KEY.to_owned())).unwrap();
    assert!(e.embed(&[]).await.unwrap().is_empty());
    assert!(requests.lock().unwrap().is_empty());
}

#[tokio::test]
async fn dimension_mismatch_names_both_sizes() {
    let (url, _) = serve(8).await;
    let e = HttpEmbedder::with_api_key(config(&url, 384), Some(KEY.to_owned())).unwrap();
    let err = e.embed(&texts(1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::DimensionMismatch {
                expected: 384,
                actual: 8,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(
            "text-embedding-3-small returned 8-dimensional vectors but 384 are configured"
        ),
        "{msg}"
    );
}

#[tokio::test]
async fn unauthorized_never_shows_the_key() {
    let (url, _) = serve(8).await;
    let wrong = "sk-wrong-key-do-not-print-42";
    let cfg = HttpEmbedderConfig {
        api_key_env: Some("STEWARD_EMBED_API_KEY".to_owned()),
        ..config(&url, 8)
    };
    let e = HttpEmbedder::with_api_key(cfg, Some(wrong.to_owned())).unwrap();
    let err = e.embed(&texts(1)).await.unwrap_err();
    assert!(
        matches!(err, EmbedError::HttpStatus { status: 401, .. }),
        "{err:?}"
    );
    let (shown, debug) = (err.to_string(), format!("{err:?} {e:?}"));
    assert!(
        !shown.contains(wrong) && !debug.contains(wrong),
        "key leaked: {shown} / {debug}"
    );
    assert!(
        shown.contains("[redacted]"),
        "the echoed key is masked: {shown}"
    );
    assert!(
        shown.contains("$STEWARD_EMBED_API_KEY"),
        "names the variable: {shown}"
    );
}

#[test]
fn unset_key_variable_is_named() {
    let cfg = HttpEmbedderConfig {
        api_key_env: Some("STEWARD_TEST_EMBED_KEY_NEVER_SET".to_owned()),
        ..HttpEmbedderConfig::new("http://127.0.0.1:9/v1", "m", 8)
    };
    let err = HttpEmbedder::new(cfg).unwrap_err();
    assert!(matches!(err, EmbedError::ApiKeyMissing { .. }), "{err:?}");
    assert!(
        err.to_string().contains("STEWARD_TEST_EMBED_KEY_NEVER_SET"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_base_url_hints_at_v1() {
    let (url, _) = serve(8).await;
    let root = url.trim_end_matches("/v1");
    let e = HttpEmbedder::with_api_key(config(root, 8), Some(KEY.to_owned())).unwrap();
    let msg = e.embed(&texts(1)).await.unwrap_err().to_string();
    assert!(msg.contains("404") && msg.contains("/v1"), "{msg}");
}

#[tokio::test]
async fn unreachable_endpoint_names_the_url() {
    // Bind then drop: nothing listens on the port afterwards.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let e = HttpEmbedder::new(config(&url, 8)).unwrap();
    let err = e.embed(&texts(1)).await.unwrap_err();
    assert!(matches!(err, EmbedError::Http { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&format!("{url}/embeddings")),
        "{err}"
    );
}
