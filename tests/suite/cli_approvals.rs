//! The operator's CLI end to end: a write asked for with `steward call`, decided with
//! `steward approvals`, executed once, and the ledger checked with `steward audit verify`.

use std::process::Command;

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::common::{TestDb, steward_bin};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// `steward ARGS` as alice (data-oncall) with bob (data-oncall) known to the CLI.
fn command(db: &TestDb, args: &[&str]) -> Command {
    let mut command = Command::new(steward_bin());
    command
        .args(args)
        .env_clear()
        .env("STEWARD_DATABASE_URL", &db.url)
        .env("STEWARD_SERVER__STDIO_PRINCIPAL", "alice")
        .env("STEWARD_SERVER__STDIO_GROUPS", r#"["data-oncall"]"#)
        .env("STEWARD_PEOPLE__BOB__GROUPS", r#"["data-oncall"]"#);
    command
}

fn steward(db: &TestDb, args: &[&str]) -> Run {
    let out = command(db, args).output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[tokio::test]
async fn request_approve_execute_and_verify_from_the_cli() {
    let db = TestDb::new().await;
    let refunded: i64 =
        sqlx::query_scalar("SELECT count(*) FROM gold.orders WHERE status = 'refunded'")
            .fetch_one(&db.pool().await)
            .await
            .unwrap();
    let call = [
        "call",
        "execute_statement",
        r#"{"sql": "DELETE FROM gold.orders WHERE status = 'refunded'"}"#,
    ];

    let asked = steward(&db, &call);
    assert_eq!(asked.code, 2, "{}", asked.stderr);
    let pending: Value = serde_json::from_str(&asked.stdout).unwrap();
    assert_eq!(pending["status"], "pending_approval");
    let id = pending["approval_id"].as_str().unwrap().to_string();

    let listed = steward(&db, &["approvals", "list"]);
    assert!(listed.stdout.starts_with(&id), "{}", listed.stdout);
    assert!(
        listed
            .stdout
            .contains("pending   execute_statement  DELETE gold.orders  0/1 approvals"),
        "{}",
        listed.stdout
    );

    let own = steward(&db, &["approvals", "approve", &id, "--as", "alice"]);
    assert_eq!(
        (own.code, own.stderr.trim()),
        (
            1,
            format!("error: alice requested {id} and cannot approve their own request").as_str()
        )
    );
    let outsider = steward(&db, &["approvals", "approve", &id, "--as", "eve"]);
    assert_eq!(
        (outsider.code, outsider.stderr.trim()),
        (
            1,
            format!("error: eve may not decide {id}; allowed approvers: group:data-oncall")
                .as_str()
        )
    );
    let approved = steward(
        &db,
        &[
            "approvals",
            "approve",
            &id,
            "--as",
            "bob",
            "--comment",
            "ok",
        ],
    );
    assert_eq!(
        approved.stdout.trim(),
        format!("bob approved {id}: now approved (1/1 approvals)")
    );

    let ran = steward(&db, &call);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let result: Value = serde_json::from_str(&ran.stdout).unwrap();
    assert_eq!(result["rows_affected"], refunded);
    let replay = steward(&db, &call);
    assert_eq!(replay.code, 2, "a used approval must not run again");

    // requested, two rejected votes, approved, claimed, executed, and the replay's new request.
    let verified = steward(&db, &["audit", "verify"]);
    assert_eq!(
        (verified.code, verified.stdout.trim()),
        (0, "audit ledger intact: 7 rows, hash chain verified")
    );
    let tail = steward(&db, &["audit", "tail", "-n", "3"]);
    assert_eq!(tail.stdout.lines().count(), 3, "{}", tail.stdout);

    let pool = db.pool().await;
    sqlx::query("UPDATE steward.audit_ledger SET outcome = 'ok' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let tampered = steward(&db, &["audit", "verify"]);
    assert_eq!(
        (tampered.code, tampered.stdout.trim()),
        (
            1,
            "audit ledger BROKEN at row 3: hash mismatch (row changed)"
        )
    );
    sqlx::query("DELETE FROM steward.audit_ledger WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let deleted = steward(&db, &["audit", "verify"]);
    assert_eq!(
        (deleted.code, deleted.stdout.trim()),
        (
            1,
            "audit ledger BROKEN at row 4: sequence gap: expected 3, found 4 (row deleted)"
        )
    );
}

#[tokio::test]
async fn policy_commands_test_and_explain_decisions() {
    let db = TestDb::new().await;
    let tested = steward(&db, &["policy", "test"]);
    assert_eq!(tested.code, 0, "{}{}", tested.stdout, tested.stderr);
    assert!(
        tested.stdout.ends_with("21 passed, 0 failed\n"),
        "{}",
        tested.stdout
    );

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(
        &input,
        r#"{"principal": {"id": "mcp:claude", "groups": ["data-oncall"], "kind": "agent", "on_behalf_of": "alice"},
            "tool": "execute_statement",
            "annotations": {"read_only": false, "destructive": true, "idempotent": false, "open_world": false},
            "action": {"statement_kind": "TRUNCATE", "tables": ["gold.orders"], "schemas": ["gold"], "rows_estimate": 5000},
            "environment": "dev", "channel": "mcp-stdio"}"#,
    )
    .unwrap();
    let eval = steward(&db, &["policy", "eval", "--input", input.to_str().unwrap()]);
    assert_eq!(eval.code, 0, "{}", eval.stderr);
    let decision: Value = serde_json::from_str(
        eval.stdout
            .lines()
            .find_map(|l| l.strip_prefix("decision: "))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(decision["effect"], "require_approval");
    assert_eq!(decision["min_approvals"], 2);
    assert_eq!(decision["independent_approvers"], true);
    assert_eq!(
        decision["approvers"],
        serde_json::json!(["group:data-oncall"])
    );
}

/// The id of the first pending request, once the waiting process has opened it.
async fn first_pending_approval(db: &TestDb) -> String {
    let pool = db.pool().await;
    loop {
        let found: Option<String> =
            sqlx::query_scalar("SELECT id FROM steward.approvals WHERE state = 'pending'")
                .fetch_optional(&pool)
                .await
                .unwrap();
        if let Some(id) = found {
            return id;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A caller that waits is resumed by a decision made in another process.
#[tokio::test]
async fn a_waiting_call_resumes_when_approved_elsewhere() {
    let db = TestDb::new().await;
    let sql = r#"{"sql": "UPDATE gold.orders SET items = items + 1 WHERE order_id <= 3"}"#;
    let waiting = command(&db, &["call", "execute_statement", sql, "--wait", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = first_pending_approval(&db).await;
    let approved = steward(&db, &["approvals", "approve", &id, "--as", "bob"]);
    assert_eq!(approved.code, 0, "{}", approved.stderr);
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.starts_with(&format!("waiting up to 60 s for {id}")),
        "{stderr}"
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["rows_affected"], 3);
}

#[tokio::test]
async fn a_waiting_call_stops_when_denied() {
    let db = TestDb::new().await;
    let before = db.fingerprint().await;
    let sql = r#"{"sql": "DELETE FROM gold.orders WHERE order_id = 1"}"#;
    let waiting = command(&db, &["call", "execute_statement", sql, "--wait", "60"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let id = first_pending_approval(&db).await;
    steward(
        &db,
        &["approvals", "deny", &id, "--as", "bob", "--reason", "no"],
    );
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.ends_with(&format!("error: approval {id} was denied; nothing ran\n")),
        "{stderr}"
    );
    assert_eq!(db.fingerprint().await, before);
}

/// Someone with an access token must present it to decide on the CLI.
#[tokio::test]
async fn token_holders_prove_who_they_are_on_the_cli() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("steward.toml");
    std::fs::write(
        &config,
        format!(
            "[[server.tokens]]\nprincipal = \"carol\"\ngroups = [\"data-oncall\"]\nsha256 = \"{}\"\n",
            hex::encode(steward::mcp::auth::hash_token("stw_carols_token"))
        ),
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let run = |args: &[&str], token: Option<&str>| {
        let mut cmd = command(&db, &[&["--config", &config], args].concat());
        if let Some(token) = token {
            cmd.env("STEWARD_TOKEN", token);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, stdout, _) = run(
        &[
            "call",
            "execute_statement",
            r#"{"sql": "DELETE FROM gold.orders WHERE order_id = 1"}"#,
        ],
        None,
    );
    assert_eq!(code, 2);
    let id = serde_json::from_str::<Value>(&stdout).unwrap()["approval_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, _, stderr) = run(&["approvals", "approve", &id, "--as", "carol"], None);
    assert_eq!(
        (code, stderr.trim()),
        (
            1,
            "error: carol has an access token: set STEWARD_TOKEN to it to decide as carol"
        )
    );
    let (code, _, stderr) = run(
        &["approvals", "approve", &id, "--as", "carol"],
        Some("stw_guess"),
    );
    assert_eq!(
        (code, stderr.trim()),
        (1, "error: STEWARD_TOKEN is not one of carol's tokens")
    );
    let (code, stdout, stderr) = run(
        &["approvals", "approve", &id, "--as", "carol"],
        Some("stw_carols_token"),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim(),
        format!("carol approved {id}: now approved (1/1 approvals)")
    );
}
