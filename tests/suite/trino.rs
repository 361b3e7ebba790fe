//! The Trino backend against a protocol-faithful Trino server (tests/common/trino.rs, backed
//! by the real Postgres): types, paging, caps that cancel, deadlines, retries, errors by name,
//! impersonation, allowlists, and the Foundation refusal matrix on Trino.

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use steward_tools::warehouse::trino::{TrinoAuth, TrinoSettings, TrinoWarehouse};
use steward_tools::warehouse::{Warehouse, WarehouseError};
use steward_tools::{CallContext, QueryLimits, ToolError, warehouse_tools};

use crate::common::TestDb;
use crate::common::trino::{Options, QueryFault, TrinoTestServer};

fn settings(url: &str) -> TrinoSettings {
    TrinoSettings {
        url: url.to_string(),
        catalog: "postgres".into(),
        schema: "gold".into(),
        source: "steward".into(),
        service_user: "steward".into(),
        auth: TrinoAuth::None,
        ca_cert: None,
        session_properties: Default::default(),
        allowed_catalogs: vec![],
        allowed_schemas: vec![],
        max_retries: 3,
    }
}

struct Fixture {
    _db: TestDb,
    server: TrinoTestServer,
    warehouse: Arc<TrinoWarehouse>,
}

async fn fixture(options: Options) -> Fixture {
    let db = TestDb::new().await;
    let server = TrinoTestServer::start(db.pool().await, options).await;
    let warehouse = Arc::new(TrinoWarehouse::new(settings(&server.url())).unwrap());
    Fixture {
        _db: db,
        server,
        warehouse,
    }
}

fn alice() -> CallContext {
    CallContext::new("alice")
}

async fn query(f: &Fixture, sql: &str, limits: QueryLimits) -> Result<Value, ToolError> {
    let tool = warehouse_tools(f.warehouse.clone(), limits)
        .into_iter()
        .find(|t| t.spec().name == "query_warehouse")
        .unwrap();
    tool.call(&alice(), json!({ "sql": sql })).await
}

#[tokio::test]
async fn every_type_and_null_maps_faithfully() {
    let f = fixture(Options::default()).await;
    let sql = "SELECT 9007199254740993::int8 AS big, 7::int4 AS i, 2::int2 AS s, 1.5::float8 AS d, \
               0.25::float4 AS r, true AS b, 'héllo'::varchar AS v, 'ab'::char(3) AS c, \
               12345678901.23::numeric(13,2) AS dec, date '2026-11-30' AS dt, \
               time '12:34:56.789' AS t, timestamp '2026-11-30 01:02:03.456789' AS ts, \
               timestamptz '2026-11-30 01:02:03+00' AS tstz, '\\x01ff'::bytea AS bin, \
               '6f9619ff-8b86-d011-b42d-00c04fc964ff'::uuid AS u, '{\"k\": [1, 2]}'::jsonb AS j, \
               ARRAY[1, 2, NULL]::int4[] AS arr, \
               '{\"a\": \"x\", \"b\": 1}'::jsonb AS m__map, \
               json_build_object('id', 7, 'name', 'n') AS r__row, NULL::int8 AS nothing";
    let out = query(&f, sql, QueryLimits::default()).await.unwrap();
    let types: Vec<&str> = out["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "bigint",
            "integer",
            "smallint",
            "double",
            "real",
            "boolean",
            "varchar",
            "char(3)",
            "decimal(13, 2)",
            "date",
            "time(6)",
            "timestamp(6)",
            "timestamp(6) with time zone",
            "varbinary",
            "uuid",
            "json",
            "array(integer)",
            "map(varchar, varchar)",
            "row(id bigint, name varchar)",
            "bigint",
        ]
    );
    assert_eq!(
        out["rows"][0],
        json!([
            9007199254740993_i64,
            7,
            2,
            1.5,
            0.25,
            true,
            "héllo",
            "ab ",
            "12345678901.23",
            "2026-11-30",
            "12:34:56.789000",
            "2026-11-30 01:02:03.456789",
            "2026-11-30 01:02:03.000000 UTC",
            "Af8=",
            "6f9619ff-8b86-d011-b42d-00c04fc964ff",
            {"k": [1, 2]},
            [1, 2, null],
            {"a": "x", "b": "1"},
            {"id": 7, "name": "n"},
            null
        ])
    );
    let posted: Vec<_> = f
        .server
        .log()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].user.as_deref(),
        Some("alice"),
        "calls impersonate the human"
    );
    assert_eq!(posted[0].source.as_deref(), Some("steward"));
    assert_eq!(posted[0].catalog.as_deref(), Some("postgres"));
    assert_eq!(posted[0].schema.as_deref(), Some("gold"));
}

#[tokio::test]
async fn a_three_page_result_arrives_whole() {
    let f = fixture(Options {
        page_rows: 2,
        ..Options::default()
    })
    .await;
    let out = query(
        &f,
        "SELECT g FROM generate_series(1, 5) g ORDER BY g",
        QueryLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(out["rows"], json!([[1], [2], [3], [4], [5]]));
    assert_eq!(
        (out["row_count"].clone(), out["truncated"].clone()),
        (json!(5), json!(false))
    );
    let pages = f.server.log().iter().filter(|r| r.method == "GET").count();
    assert!(pages >= 4, "expected paging, saw {pages} GETs");
}

#[tokio::test]
async fn the_row_cap_stops_reading_and_cancels_the_query() {
    let f = fixture(Options::default()).await;
    let out = query(
        &f,
        "SELECT g FROM generate_series(1, 100) g ORDER BY g",
        QueryLimits {
            default_rows: 3,
            ..QueryLimits::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(out["rows"], json!([[1], [2], [3]]));
    assert_eq!(
        (out["truncated"].clone(), out["truncation"].clone()),
        (json!(true), json!("row_cap"))
    );
    let cancelled = wait_for(|| f.server.queries().first().is_some_and(|q| q.canceled)).await;
    assert!(
        cancelled,
        "the server never saw the DELETE: {:?}",
        f.server.log()
    );
}

#[tokio::test]
async fn the_deadline_cancels_a_slow_query() {
    let f = fixture(Options {
        page_delay: Some(Duration::from_millis(700)),
        ..Options::default()
    })
    .await;
    let err = query(
        &f,
        "SELECT 1",
        QueryLimits {
            timeout_ms: 300,
            ..QueryLimits::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "statement cancelled after exceeding the statement timeout of 300 ms".into()
        )
    );
    let cancelled = wait_for(|| f.server.queries().first().is_some_and(|q| q.canceled)).await;
    assert!(
        cancelled,
        "no DELETE after the deadline: {:?}",
        f.server.log()
    );
}

#[tokio::test]
async fn unavailable_answers_are_retried() {
    let f = fixture(Options::default()).await;
    f.server.inject_status(503);
    f.server.inject_page_status(502);
    let out = query(&f, "SELECT 42 AS answer", QueryLimits::default())
        .await
        .unwrap();
    assert_eq!(out["rows"], json!([[42]]));
    let statuses: Vec<u16> = f.server.log().iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&503) && statuses.contains(&502),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn errors_carry_trino_names_and_positions() {
    let f = fixture(Options::default()).await;
    assert_eq!(
        query(&f, "SELECT * FROM gold.nope", QueryLimits::default()).await.unwrap_err(),
        ToolError::Failed(
            "database error: line 1:15: Table 'postgres.gold.nope' does not exist (TABLE_NOT_FOUND) at character 15".into()
        )
    );
    let syntax = f
        .warehouse
        .query(
            &alice(),
            &steward_tools::warehouse::ReadOnlyStatement {
                kind: "SELECT",
                sql: "SELECT FROM WHERE".into(),
                cursorable: true,
            },
            10,
            &QueryLimits::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&syntax, WarehouseError::Sql { code: Some(code), position: Some(_), .. } if code == "SYNTAX_ERROR"),
        "{syntax:?}"
    );
}

#[tokio::test]
async fn malformed_answers_and_unknown_types_are_named() {
    let f = fixture(Options::default()).await;
    f.server
        .inject_query_fault(QueryFault::UnknownColumnType("geometry".into()));
    let err = query(&f, "SELECT 1 AS g", QueryLimits::default())
        .await
        .unwrap_err();
    let ToolError::Failed(message) = err else {
        panic!("expected a failure, got {err:?}");
    };
    assert!(message.contains("geometry"), "{message}");
    assert!(
        message.starts_with(&format!(
            "warehouse unavailable: malformed response from Trino at {}",
            f.server.url()
        )),
        "{message}"
    );
}

#[tokio::test]
async fn a_refused_connection_names_the_url() {
    let warehouse = TrinoWarehouse::new(settings("http://127.0.0.1:1")).unwrap();
    let err = warehouse.ping().await.unwrap_err();
    assert!(
        matches!(&err, WarehouseError::Unavailable(m) if m.starts_with("cannot reach Trino at http://127.0.0.1:1")),
        "{err:?}"
    );
}

#[tokio::test]
async fn names_outside_the_allowlist_are_refused_before_sending() {
    let db = TestDb::new().await;
    let server = TrinoTestServer::start(db.pool().await, Options::default()).await;
    let mut s = settings(&server.url());
    s.allowed_schemas = vec!["gold".into()];
    let warehouse = Arc::new(TrinoWarehouse::new(s).unwrap());
    let tool = warehouse_tools(warehouse.clone(), QueryLimits::default())
        .into_iter()
        .find(|t| t.spec().name == "query_warehouse")
        .unwrap();
    let err = tool
        .call(
            &alice(),
            json!({"sql": "SELECT * FROM postgres.steward.approvals"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed("schema \"steward\" is outside the allowlist (gold)".into())
    );
    let ok = tool
        .call(
            &alice(),
            json!({"sql": "SELECT count(*) AS n FROM postgres.gold.orders"}),
        )
        .await
        .unwrap();
    assert_eq!(ok["rows"], json!([[5000]]));
    assert_eq!(
        server.log().iter().filter(|r| r.method == "POST").count(),
        1
    );
}

#[tokio::test]
async fn list_and_describe_through_information_schema() {
    let f = fixture(Options::default()).await;
    let tools = warehouse_tools(f.warehouse.clone(), QueryLimits::default());
    let list = tools
        .iter()
        .find(|t| t.spec().name == "list_tables")
        .unwrap();
    let out = list
        .call(&alice(), json!({"schema": "gold"}))
        .await
        .unwrap();
    let names: Vec<&str> = out["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["customer_features", "customers", "orders"]);
    let describe = tools
        .iter()
        .find(|t| t.spec().name == "describe_table")
        .unwrap();
    let out = describe
        .call(&alice(), json!({"table": "gold.orders", "sample_rows": 2}))
        .await
        .unwrap();
    assert_eq!(out["columns"][0]["name"], "order_id");
    assert_eq!(out["sample"]["row_count"], 2);
}

/// The Foundation refusal matrix holds on Trino: each statement is refused exactly as on
/// Postgres, and refused ones never reach the server.
#[tokio::test]
async fn refused_statements_never_reach_trino() {
    let f = fixture(Options::default()).await;
    let mut refused = 0;
    for (sql, expected) in crate::suite::refusal_matrix::matrix() {
        let Err(message) = expected else { continue };
        // Operator cases are about Postgres' tokenizer; the generic dialect reads `--` and
        // `/*` as comments, as Trino does, so there they are ordinary SQL.
        if sql.contains(">--") || sql.contains(">/*") {
            continue;
        }
        let err = query(&f, sql, QueryLimits::default()).await.unwrap_err();
        assert_eq!(err, ToolError::Refused(message), "{sql}");
        refused += 1;
    }
    assert!(refused >= 30, "{refused}");
    assert_eq!(f.server.log(), vec![], "a refused statement reached Trino");
}

/// An MCP client's cancellation reaches Trino as a DELETE of the running query.
#[tokio::test]
async fn a_callers_cancel_cancels_the_query() {
    let f = fixture(Options {
        page_delay: Some(Duration::from_millis(500)),
        ..Options::default()
    })
    .await;
    let ctx = alice();
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    let err = f
        .warehouse
        .query(
            &ctx,
            &steward_tools::warehouse::ReadOnlyStatement {
                kind: "SELECT",
                sql: "SELECT g FROM generate_series(1, 10) g".into(),
                cursorable: true,
            },
            100,
            &QueryLimits::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err, WarehouseError::Cancelled);
    let cancelled = wait_for(|| f.server.queries().first().is_some_and(|q| q.canceled)).await;
    assert!(
        cancelled,
        "no DELETE after the caller cancelled: {:?}",
        f.server.log()
    );
}

#[tokio::test]
async fn a_malformed_answer_is_an_error_not_an_empty_result() {
    let f = fixture(Options::default()).await;
    f.server.inject_query_fault(QueryFault::MalformedJson);
    let err = query(&f, "SELECT 1 AS one", QueryLimits::default())
        .await
        .unwrap_err();
    let ToolError::Failed(message) = err else {
        panic!("expected a failure, got {err:?}");
    };
    assert!(
        message.starts_with(&format!(
            "warehouse unavailable: malformed response from Trino at {}: ",
            f.server.url()
        )),
        "{message}"
    );
}

/// The test server is checked against the official Python client too.
#[tokio::test]
async fn the_official_python_client_agrees_with_the_test_server() {
    let Ok(python) = std::env::var("STEWARD_DEV_PYTHON") else {
        panic!(
            "STEWARD_DEV_PYTHON must point at the dev venv's python (eval \"$(scripts/dev-services env)\")"
        );
    };
    let f = fixture(Options::default()).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/trino_fidelity.py");
    let url = f.server.url();
    // The server runs on this test's runtime, so the client runs on a blocking thread.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .arg("--url")
            .arg(url)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "fidelity script failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn wait_for(condition: impl Fn() -> bool) -> bool {
    for _ in 0..50 {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Like a coordinator, the test server refuses a statement that names no user.
#[tokio::test]
async fn the_test_server_requires_a_user() {
    let f = fixture(Options::default()).await;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/statement", f.server.url()))
        .body("SELECT 1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(f.server.queries().is_empty());
}
