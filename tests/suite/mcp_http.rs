//! Streamable HTTP edge behaviour with a raw HTTP client: authentication (401 +
//! WWW-Authenticate, no tool runs), Origin validation (403), health check, refusing to start
//! without tokens.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common::{TestDb, steward_bin};

const TOKEN: &str = "stw_test_token_for_http_suite";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &TestDb, dir: &tempfile::TempDir, drain_stderr: bool) -> Server {
    let path = dir.path().join("steward.toml");
    let hash = hex::encode(steward::mcp::auth::hash_token(TOKEN));
    std::fs::write(
        &path,
        format!("[[server.tokens]]\nprincipal = \"alice\"\ngroups = [\"data-oncall\"]\nsha256 = \"{hash}\"\n"),
    )
    .unwrap();
    let mut child = Command::new(steward_bin())
        .args(["serve", "--http", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env_clear()
        .env("STEWARD_DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("steward: MCP over streamable HTTP at ")
        .unwrap_or_else(|| panic!("unexpected first stderr line: {line:?}"))
        .to_string();
    // Keep draining stderr: a closed pipe would make the server's log writes fail.
    if drain_stderr {
        std::thread::spawn(move || for _ in stderr.lines() {});
    }
    Server {
        child,
        base: url.trim_end_matches("/mcp").to_string(),
    }
}

/// An authenticated POST from a foreign browser origin, as raw bytes.
async fn cross_origin_request(base: &str) -> String {
    let request = format!(
        "POST /mcp HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {TOKEN}\r\n\
         origin: http://evil.example\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        host = base.trim_start_matches("http://")
    );
    raw_request(base, &request).await
}

async fn raw_request(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_string(&mut response),
    )
    .await
    .expect("the server closes the connection")
    .unwrap();
    response
}

fn initialize() -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-http", "version": "0"}}})
}

#[tokio::test]
async fn authentication_origin_and_health() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&db, &dir, true);
    // No connection reuse: a rejected request's connection is closed by the server.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mcp = format!("{}/mcp", server.base);
    let post = |auth: Option<&str>| {
        let mut request = http
            .post(&mcp)
            .header("Accept", "application/json, text/event-stream")
            .json(&initialize());
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        request
    };

    let missing = post(None).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["www-authenticate"],
        r#"Bearer realm="steward""#
    );
    assert_eq!(
        missing.text().await.unwrap(),
        r#"{"error":"missing Authorization: Bearer token"}"#
    );

    let wrong = post(Some("Bearer nope")).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        wrong.headers()["www-authenticate"],
        r#"Bearer realm="steward", error="invalid_token""#
    );

    let evil = cross_origin_request(&server.base).await;
    assert!(evil.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{evil}");
    assert!(
        evil.ends_with("Forbidden: Origin header is not allowed"),
        "{evil}"
    );

    let ok = post(Some(&format!("Bearer {TOKEN}"))).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), ok.text())
        .await
        .expect("the initialize stream ends after its reply")
        .unwrap();
    assert!(body.contains(r#""name":"steward""#), "{body}");

    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (health.status().as_u16(), health.text().await.unwrap()),
        (200, "ok\n".to_string())
    );

    let calls: i64 = sqlx::query_scalar("SELECT count(*) FROM steward.audit_ledger")
        .fetch_one(&db.pool().await)
        .await
        .unwrap();
    assert_eq!(calls, 0, "no tool may run for rejected requests");
}

/// MCP clients may close the server's stderr; a log line must not break the request.
#[tokio::test]
async fn a_closed_stderr_does_not_break_requests() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let server = start(&db, &dir, false);
    let response = cross_origin_request(&server.base).await;
    assert!(
        response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
        "{response:?}"
    );
}

#[tokio::test]
async fn http_without_tokens_refuses_to_start() {
    let db = TestDb::new().await;
    let out = Command::new(steward_bin())
        .args(["serve", "--http", "127.0.0.1:0"])
        .env_clear()
        .env("STEWARD_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim(),
        "error: no [[server.tokens]] configured: every HTTP request would be rejected. Create one \
         with `steward token new --principal NAME` and add it to steward.toml"
    );
}
