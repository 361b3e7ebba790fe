//! The audit ledger on real Postgres: the chain verifies, every kind of tampering is reported
//! at the right row with the right reason, concurrent appends never fork, secrets never land.

use std::collections::BTreeMap;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use steward::audit::{AuditEvent, AuditLedger, AuditRow, GENESIS_HASH, Verification};

use crate::common::TestDb;

fn event(n: i64) -> AuditEvent {
    AuditEvent {
        event: "tool_call".into(),
        principal: "alice@example.com".into(),
        principal_kind: "human".into(),
        on_behalf_of: None,
        channel: "mcp-stdio".into(),
        tool: "query_warehouse".into(),
        arguments: json!({"sql": format!("select {n}")}),
        action: None,
        decision: None,
        approval_id: None,
        outcome: "ok".into(),
        error: None,
        duration_ms: n,
    }
}

fn approval_executed() -> AuditEvent {
    AuditEvent {
        event: "approval_executed".into(),
        principal: "oncall-agent".into(),
        principal_kind: "agent".into(),
        on_behalf_of: Some("bob@example.com".into()),
        channel: "agent".into(),
        tool: "execute_statement".into(),
        arguments: json!({"sql": "vacuum analyze gold.orders"}),
        action: Some(json!({"kind": "sql", "sql": "vacuum analyze gold.orders"})),
        decision: Some(json!({"by": "bob@example.com", "approved": true})),
        approval_id: Some("apr_42".into()),
        outcome: "ok".into(),
        error: None,
        duration_ms: 1234,
    }
}

/// The hash as the design states it, computed independently of the module: keys sorted
/// recursively, no whitespace, serde_json's number and string forms.
fn spec_canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            let body: Vec<String> = sorted
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), spec_canonical(v)))
                .collect();
            format!("{{{}}}", body.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(spec_canonical)
                .collect::<Vec<_>>()
                .join(",")
        ),
        leaf => leaf.to_string(),
    }
}

fn spec_hash(row: &AuditRow) -> String {
    let mut value = serde_json::to_value(row).unwrap();
    let map = value.as_object_mut().unwrap();
    map.remove("prev_hash");
    map.remove("hash");
    let text = format!("{}\n{}", row.prev_hash, spec_canonical(&value));
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What `tail` must return for `events` stored from seq 1 on: the dynamic parts (time) taken
/// from `got`, the hashes recomputed from the design.
fn expected_rows(events: &[AuditEvent], got: &[AuditRow]) -> Vec<AuditRow> {
    let mut prev = GENESIS_HASH.to_string();
    events
        .iter()
        .zip(got)
        .enumerate()
        .map(|(i, (e, g))| {
            let mut row = AuditRow {
                seq: i as i64 + 1,
                recorded_at: g.recorded_at.clone(),
                event: e.clone(),
                prev_hash: prev.clone(),
                hash: String::new(),
            };
            row.hash = spec_hash(&row);
            prev = row.hash.clone();
            row
        })
        .collect()
}

fn is_utc_micros(t: &str) -> bool {
    // 2026-12-04T20:00:00.123456Z
    t.len() == 27
        && t.ends_with('Z')
        && t.chars().enumerate().all(|(i, c)| match i {
            4 | 7 => c == '-',
            10 => c == 'T',
            13 | 16 => c == ':',
            19 => c == '.',
            26 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

async fn append_all(ledger: &AuditLedger, events: &[AuditEvent]) -> Vec<i64> {
    let mut seqs = Vec::new();
    for e in events {
        seqs.push(ledger.append(e.clone()).await.unwrap());
    }
    seqs
}

async fn exec(pool: &PgPool, sql: &'static str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

#[tokio::test]
async fn empty_ledger_is_intact_and_tool_calls_is_gone() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 0 }
    );
    assert_eq!(ledger.tail(10).await.unwrap(), vec![]);

    let tool_calls_gone: bool =
        sqlx::query_scalar("SELECT to_regclass('steward.tool_calls') IS NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(tool_calls_gone, "0002 replaces steward.tool_calls");
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable::text
         FROM information_schema.columns
         WHERE table_schema = 'steward' AND table_name = 'audit_ledger' ORDER BY ordinal_position",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let col = |n: &str, t: &str, null: &str| (n.to_string(), t.to_string(), null.to_string());
    assert_eq!(
        columns,
        vec![
            col("seq", "bigint", "NO"),
            col("recorded_at", "timestamp with time zone", "NO"),
            col("event", "text", "NO"),
            col("principal", "text", "NO"),
            col("principal_kind", "text", "NO"),
            col("on_behalf_of", "text", "YES"),
            col("channel", "text", "NO"),
            col("tool", "text", "NO"),
            col("arguments", "jsonb", "NO"),
            col("action", "jsonb", "YES"),
            col("decision", "jsonb", "YES"),
            col("approval_id", "text", "YES"),
            col("outcome", "text", "NO"),
            col("error", "text", "YES"),
            col("duration_ms", "bigint", "NO"),
            col("prev_hash", "text", "NO"),
            col("hash", "text", "NO"),
        ]
    );
}

#[tokio::test]
async fn appended_rows_chain_verify_and_tail_in_order() {
    let db = TestDb::new().await;
    let ledger = AuditLedger::new(db.pool().await);
    let events = vec![event(1), approval_executed(), event(3)];
    assert_eq!(append_all(&ledger, &events).await, vec![1, 2, 3]);
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 3 }
    );

    let got = ledger.tail(10).await.unwrap();
    assert!(
        got.iter().all(|r| is_utc_micros(&r.recorded_at)),
        "{got:#?}"
    );
    assert!(got.windows(2).all(|w| w[0].recorded_at <= w[1].recorded_at));
    assert_eq!(got, expected_rows(&events, &got));
    assert_eq!(ledger.tail(2).await.unwrap(), got[1..].to_vec());
    assert_eq!(ledger.tail(0).await.unwrap(), vec![]);
    assert_eq!(
        got[1].line(),
        format!(
            "#2 {} oncall-agent (agent for bob@example.com) agent execute_statement \
             approval_executed ok 1234ms approval=apr_42",
            got[1].recorded_at
        )
    );
}

#[tokio::test]
async fn an_edited_row_is_reported_by_seq() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    append_all(&ledger, &[event(1), event(2), event(3)]).await;
    exec(
        &pool,
        "UPDATE steward.audit_ledger SET outcome = 'failed' WHERE seq = 2",
    )
    .await;
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Broken {
            seq: 2,
            reason: "hash mismatch (row changed)".into()
        }
    );
}

#[tokio::test]
async fn an_edit_with_a_recomputed_hash_breaks_the_next_link() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    append_all(&ledger, &[event(1), event(2), event(3)]).await;
    let mut row = ledger.tail(2).await.unwrap().remove(0);
    row.event.outcome = "failed".into();
    let forged = spec_hash(&row);
    sqlx::query("UPDATE steward.audit_ledger SET outcome = 'failed', hash = $1 WHERE seq = 2")
        .bind(&forged)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Broken {
            seq: 3,
            reason: "prev_hash does not match row 2".into()
        }
    );
}

#[tokio::test]
async fn a_deleted_row_is_reported_as_a_gap() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    append_all(&ledger, &[event(1), event(2), event(3)]).await;
    exec(&pool, "DELETE FROM steward.audit_ledger WHERE seq = 2").await;
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Broken {
            seq: 3,
            reason: "sequence gap: expected 2, found 3 (row deleted)".into()
        }
    );
    exec(&pool, "DELETE FROM steward.audit_ledger WHERE seq = 1").await;
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Broken {
            seq: 3,
            reason: "sequence gap: expected 1, found 3 (row deleted)".into()
        }
    );
}

#[tokio::test]
async fn a_forged_head_hash_is_chained_on_and_still_reported() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    append_all(&ledger, &[event(1), event(2)]).await;
    let fake = "ab".repeat(32);
    sqlx::query("UPDATE steward.audit_ledger SET hash = $1 WHERE seq = 2")
        .bind(&fake)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ledger.append(event(3)).await.unwrap(), 3);
    let tail = ledger.tail(1).await.unwrap();
    assert_eq!(tail[0].prev_hash, fake);
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Broken {
            seq: 2,
            reason: "hash mismatch (row changed)".into()
        }
    );
}

#[tokio::test]
async fn concurrent_appends_never_fork_the_chain() {
    let db = TestDb::new().await;
    let ledger = AuditLedger::new(db.pool().await);
    let tasks: Vec<_> = (1..=20)
        .map(|n| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.append(event(n)).await.unwrap() })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 20 }
    );
    let rows = ledger.tail(100).await.unwrap();
    assert_eq!(
        rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (1..=20).collect::<Vec<i64>>()
    );
    assert!(
        rows.windows(2)
            .all(|w| w[0].recorded_at <= w[1].recorded_at)
    );
}

#[tokio::test]
async fn secrets_are_redacted_before_they_are_stored() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    ledger
        .append(AuditEvent {
            arguments: json!({
                "sql": "select 1",
                "password": "hunter2",
                "nested": {"api_key": "k"},
                "url": "postgres://u:pw@h/db",
                "t": "stw_abc",
            }),
            outcome: "failed".into(),
            error: Some("could not connect to postgres://svc:s3cret@db/x with stw_abc".into()),
            ..event(1)
        })
        .await
        .unwrap();
    let row = ledger.tail(1).await.unwrap().remove(0);
    assert_eq!(
        row.event.arguments,
        json!({
            "sql": "select 1",
            "password": "[REDACTED]",
            "nested": {"api_key": "[REDACTED]"},
            "url": "postgres://u:[REDACTED]@h/db",
            "t": "[REDACTED]",
        })
    );
    assert_eq!(
        row.event.error.as_deref(),
        Some("could not connect to postgres://svc:[REDACTED]@db/x with [REDACTED]")
    );
    let leaks: Vec<String> = sqlx::query_scalar(
        "SELECT s FROM steward.audit_ledger t,
                unnest(ARRAY['hunter2', '\"k\"', ':pw@', 'stw_abc', 's3cret']) AS s
         WHERE t::text LIKE '%' || s || '%'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(leaks, Vec::<String>::new());
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 1 }
    );
}

#[tokio::test]
async fn unicode_floats_and_nesting_round_trip_and_verify() {
    let db = TestDb::new().await;
    let ledger = AuditLedger::new(db.pool().await);
    let arguments = json!({
        "floats": [0.1, 1.0, 100.0, 1e-7, 2.5e-8, -0.0, 1e20, 123456.789, 0.30000000000000004],
        "ints": [0, -1, i64::MIN, i64::MAX, u64::MAX],
        "text": "日本語 émoji 😀 \"quoted\" back\\slash\nnewline\ttab \u{1} nul:\u{0}",
        "ключ": {"z": [], "a": {}, "m": [{"b": null, "a": false}]},
        "": "empty key",
        "long key that sorts after the short one": 1,
    });
    ledger
        .append(AuditEvent {
            arguments: arguments.clone(),
            action: Some(json!({"ratio": 0.25, "name": "Zoë"})),
            decision: Some(Value::Null),
            error: Some("échec: 😀".into()),
            ..event(1)
        })
        .await
        .unwrap();
    ledger.append(event(2)).await.unwrap();
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 2 }
    );
    let row = ledger.tail(2).await.unwrap().remove(0);
    // jsonb keeps these numbers exactly; -0.0 has no numeric form, and the NUL Postgres cannot
    // store becomes U+FFFD. A JSON null decision is stored as no decision.
    let mut stored = arguments;
    stored["floats"][5] = json!(0.0);
    stored["text"] =
        json!("日本語 émoji 😀 \"quoted\" back\\slash\nnewline\ttab \u{1} nul:\u{FFFD}");
    assert_eq!(
        row.event,
        AuditEvent {
            arguments: stored,
            action: Some(json!({"ratio": 0.25, "name": "Zoë"})),
            decision: None,
            error: Some("échec: 😀".into()),
            ..event(1)
        }
    );
    assert_eq!(row.hash, spec_hash(&row));
}

#[tokio::test]
async fn extreme_floats_are_stored_readably_and_verify() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    // jsonb prints these as 300-digit decimals; serde_json's default parser reads them back
    // approximately (deterministically), or past f64::MAX for the largest.
    let floats = json!([
        1.5e299,
        -9.9e299,
        5e-324,
        2.2250738585072014e-308,
        f64::MAX,
        -1e300
    ]);
    ledger
        .append(AuditEvent {
            arguments: json!({"floats": floats}),
            ..event(1)
        })
        .await
        .unwrap();
    ledger.append(event(2)).await.unwrap();
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 2 }
    );
    let row = ledger.tail(2).await.unwrap().remove(0);
    let text: String =
        sqlx::query_scalar("SELECT arguments::text FROM steward.audit_ledger WHERE seq = 1")
            .fetch_one(&pool)
            .await
            .unwrap();
    let read_back: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(row.event.arguments, read_back);
    assert_eq!(
        row.event.arguments["floats"].as_array().unwrap()[4..].to_vec(),
        vec![json!("1.7976931348623157e+308"), json!("-1e+300")]
    );
    assert_eq!(row.hash, spec_hash(&row));
}

#[tokio::test]
async fn a_rejected_event_leaves_the_chain_untouched() {
    let db = TestDb::new().await;
    let ledger = AuditLedger::new(db.pool().await);
    let err = ledger
        .append(AuditEvent {
            principal_kind: "robot".into(),
            ..event(1)
        })
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "audit ledger: new row for relation \"audit_ledger\" violates check constraint \
         \"audit_ledger_principal_kind_check\""
    );
    assert_eq!(ledger.append(event(1)).await.unwrap(), 1);
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 1 }
    );
}

#[tokio::test]
async fn verify_pages_through_long_ledgers() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let ledger = AuditLedger::new(pool.clone());
    // verify reads 1000 rows per round trip: cross a page boundary.
    for n in 1..=1001 {
        ledger.append(event(n)).await.unwrap();
    }
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Intact { rows: 1001 }
    );
    exec(
        &pool,
        "UPDATE steward.audit_ledger SET duration_ms = 0 WHERE seq = 1001",
    )
    .await;
    assert_eq!(
        ledger.verify().await.unwrap(),
        Verification::Broken {
            seq: 1001,
            reason: "hash mismatch (row changed)".into()
        }
    );
}
