//! Raw JSON-RPC over the stdio transport: malformed input gets a proper error and the server
//! keeps serving. (Conformance with an independent client is in tests/conformance, Python SDK.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::{TestDb, steward_bin};

#[tokio::test]
async fn malformed_requests_get_errors_and_the_server_survives() {
    let db = TestDb::new().await;
    let mut child = Command::new(steward_bin())
        .arg("serve")
        .env_clear()
        .env("STEWARD_DATABASE_URL", &db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // A missing reply must fail the test, not hang it: kill the server after 30 s.
    let pid = child.id();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(30));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |message: &str| {
        stdin.write_all(message.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    };
    let mut receive = || -> Value {
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    };

    send(
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#,
    );
    let init = receive();
    assert_eq!(init["id"], 1);
    assert_eq!(init["result"]["serverInfo"]["name"], "steward");
    send(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);

    send("this is not json");
    assert_eq!(
        receive(),
        json!({"jsonrpc": "2.0", "id": null,
            "error": {"code": -32700, "message": "Parse error: expected ident at line 1 column 2"}})
    );
    send(r#"{"jsonrpc":"2.0","id":"x"}"#);
    assert_eq!(
        receive(),
        json!({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}})
    );
    send(r#"{"jsonrpc":"2.0","id":9,"method":"bogus/method"}"#);
    assert_eq!(receive()["error"]["code"], -32601);

    send(
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"query_warehouse","arguments":{"sql":42}}}"#,
    );
    let wrong_type = receive();
    assert_eq!(
        wrong_type,
        json!({"jsonrpc": "2.0", "id": 2, "error": {"code": -32602,
            "message": "invalid arguments for query_warehouse: sql: invalid type: integer `42`, expected a string"}})
    );

    send(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#,
    );
    let unknown = receive();
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");

    send(
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"query_warehouse","arguments":{"sql":"select 7 as n"}}}"#,
    );
    let ok = receive();
    assert_eq!(ok["id"], 4);
    assert_eq!(
        ok["result"]["structuredContent"]["rows"],
        json!([[7]]),
        "{ok}"
    );

    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "server exited with {status}");
}
