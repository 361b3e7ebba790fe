//! `query_warehouse` against the real demo warehouse: results, caps, errors and the
//! read-only transaction behind the parser.

use pretty_assertions::assert_eq;
use serde_json::json;
use steward_tools::warehouse::{ReadOnlyStatement, Warehouse, WarehouseError};
use steward_tools::{QueryLimits, ToolError};

use crate::common::{TestDb, ctx};

#[tokio::test]
async fn returns_typed_columns_and_rows() {
    let db = TestDb::new().await;
    let out = db
        .tool("query_warehouse", QueryLimits::default())
        .call(&ctx(), json!({"sql": "SELECT 1::int8 AS n, 2.50::numeric(5,2) AS amount, 'x' AS s, NULL::text AS nothing,
                     true AS flag, '{\"a\": [1]}'::jsonb AS doc, 1.5::float8 AS f,
                     timestamptz '2026-11-30 00:00:00+00' AT TIME ZONE 'UTC' AS at"}))
        .await
        .unwrap();
    assert_eq!(
        out,
        json!({
            "columns": [
                {"name": "n", "type": "int8"},
                {"name": "amount", "type": "numeric"},
                {"name": "s", "type": "text"},
                {"name": "nothing", "type": "text"},
                {"name": "flag", "type": "bool"},
                {"name": "doc", "type": "jsonb"},
                {"name": "f", "type": "float8"},
                {"name": "at", "type": "timestamp"},
            ],
            "rows": [[1, "2.50", "x", null, true, {"a": [1]}, 1.5, "2026-11-30 00:00:00"]],
            "row_count": 1,
            "truncated": false,
            "truncation": null,
            "row_cap": 500,
            "byte_cap": 1048576,
        })
    );
}

#[tokio::test]
async fn aggregates_over_the_demo_data() {
    let db = TestDb::new().await;
    let out = db
        .tool("query_warehouse", QueryLimits::default())
        .call(
            &ctx(),
            json!({"sql": "with s as (select status, count(*) as n from gold.orders group by 1)
                              select sum(n)::int8 as total from s"}),
        )
        .await
        .unwrap();
    assert_eq!(out["rows"], json!([[5000]]));
}

#[tokio::test]
async fn ten_thousand_rows_are_capped_and_marked_truncated() {
    let db = TestDb::new().await;
    let out = db
        .tool("query_warehouse", QueryLimits::default())
        .call(
            &ctx(),
            json!({"sql": "SELECT g AS n FROM generate_series(1, 10000) g"}),
        )
        .await
        .unwrap();
    assert_eq!(out["row_count"], 500);
    assert_eq!(out["rows"].as_array().unwrap().len(), 500);
    assert_eq!(out["rows"][499], json!([500]));
    assert_eq!(out["truncated"], true);
    assert_eq!(out["truncation"], "row_cap");
    assert_eq!(out["row_cap"], 500);
}

#[tokio::test]
async fn exactly_the_cap_is_not_truncated() {
    let db = TestDb::new().await;
    let out = db
        .tool("query_warehouse", QueryLimits::default())
        .call(
            &ctx(),
            json!({"sql": "SELECT g FROM generate_series(1, 20) g", "max_rows": 20}),
        )
        .await
        .unwrap();
    assert_eq!(
        (out["row_count"].clone(), out["truncated"].clone()),
        (json!(20), json!(false))
    );
}

#[tokio::test]
async fn byte_cap_truncates_wide_rows() {
    let db = TestDb::new().await;
    let limits = QueryLimits {
        max_bytes: 10_000,
        ..QueryLimits::default()
    };
    let out = db
        .tool("query_warehouse", limits)
        .call(
            &ctx(),
            json!({"sql": "SELECT repeat('x', 1000) AS wide FROM generate_series(1, 100)"}),
        )
        .await
        .unwrap();
    // Each row encodes as ["xxx…"]: 1004 bytes, so 9 fit in 10,000.
    assert_eq!(out["row_count"], 9);
    assert_eq!(out["truncated"], true);
    assert_eq!(out["truncation"], "byte_cap");
}

#[tokio::test]
async fn max_rows_is_bounded() {
    let db = TestDb::new().await;
    let tool = db.tool("query_warehouse", QueryLimits::default());
    let out = tool
        .call(
            &ctx(),
            json!({"sql": "SELECT g FROM generate_series(1, 100) g", "max_rows": 10}),
        )
        .await
        .unwrap();
    assert_eq!(
        (out["row_count"].clone(), out["truncated"].clone()),
        (json!(10), json!(true))
    );
    assert_eq!(
        tool.call(&ctx(), json!({"sql": "SELECT 1", "max_rows": 10001}))
            .await
            .unwrap_err(),
        ToolError::InvalidParams {
            tool: "query_warehouse",
            message: "max_rows: 10001 is above the server's maximum of 10000".into()
        }
    );
    assert_eq!(
        tool.call(&ctx(), json!({"sql": "SELECT 1", "max_rows": 0}))
            .await
            .unwrap_err(),
        ToolError::InvalidParams {
            tool: "query_warehouse",
            message: "max_rows: must be at least 1".into()
        }
    );
}

#[tokio::test]
async fn empty_results_still_describe_their_columns() {
    let db = TestDb::new().await;
    let out = db
        .tool("query_warehouse", QueryLimits::default())
        .call(
            &ctx(),
            json!({"sql": "SELECT order_id, amount FROM gold.orders WHERE false"}),
        )
        .await
        .unwrap();
    assert_eq!(
        out["columns"],
        json!([{"name": "order_id", "type": "int8"}, {"name": "amount", "type": "numeric"}])
    );
    assert_eq!(out["rows"], json!([]));
}

#[tokio::test]
async fn show_and_explain_run() {
    let db = TestDb::new().await;
    let tool = db.tool("query_warehouse", QueryLimits::default());
    let out = tool
        .call(&ctx(), json!({"sql": "SHOW statement_timeout"}))
        .await
        .unwrap();
    // Inside the tool's transaction the timeout is the configured limit.
    assert_eq!(out["rows"], json!([["30s"]]));
    let out = tool
        .call(
            &ctx(),
            json!({"sql": "EXPLAIN SELECT * FROM gold.orders WHERE order_id = 1"}),
        )
        .await
        .unwrap();
    assert_eq!(
        out["columns"],
        json!([{"name": "QUERY PLAN", "type": "text"}])
    );
    assert!(
        out["rows"][0][0].as_str().unwrap().contains("orders"),
        "{out}"
    );
}

#[tokio::test]
async fn sql_errors_carry_the_database_message_and_position() {
    let db = TestDb::new().await;
    let tool = db.tool("query_warehouse", QueryLimits::default());
    assert_eq!(
        tool.call(&ctx(), json!({"sql": "SELECT nope FROM gold.orders"}))
            .await
            .unwrap_err(),
        ToolError::Failed(
            "database error: column \"nope\" does not exist (SQLSTATE 42703) at character 8".into()
        )
    );
    assert_eq!(
        tool.call(&ctx(), json!({"sql": "SELECT * FROM gold.missing"})).await.unwrap_err(),
        ToolError::Failed(
            "database error: relation \"gold.missing\" does not exist (SQLSTATE 42P01) at character 15"
                .into()
        )
    );
    assert_eq!(
        tool.call(&ctx(), json!({"sql": "SELECT 1/0"}))
            .await
            .unwrap_err(),
        ToolError::Failed("database error: division by zero (SQLSTATE 22012)".into())
    );
}

#[tokio::test]
async fn timeout_reports_the_limit() {
    let db = TestDb::new().await;
    let limits = QueryLimits {
        timeout_ms: 200,
        ..QueryLimits::default()
    };
    let err = db
        .tool("query_warehouse", limits)
        .call(&ctx(), json!({"sql": "SELECT pg_sleep(5)"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "statement cancelled after exceeding the statement timeout of 200 ms".into()
        )
    );
}

/// The parser is the first wall; if a write ever got past it, the READ ONLY transaction is the
/// second. Drive the backend directly with statements the guard would have refused.
#[tokio::test]
async fn read_only_transaction_stops_writes_that_skip_the_parser() {
    let db = TestDb::new().await;
    sqlx::raw_sql("CREATE SEQUENCE gold.ids")
        .execute(&db.pool().await)
        .await
        .unwrap();
    let before = db.fingerprint().await;
    let warehouse = db.warehouse();
    let read_only = |statement: &str| {
        Err(WarehouseError::ReadOnlyViolation(format!(
            "cannot execute {statement} in a read-only transaction"
        )))
    };
    let cases = [
        ("DELETE FROM gold.orders", false, read_only("DELETE")),
        (
            "CREATE TABLE gold.sneaky (x int)",
            false,
            read_only("CREATE TABLE"),
        ),
        ("SELECT nextval('gold.ids')", true, read_only("nextval()")),
        (
            "WITH d AS (DELETE FROM gold.orders RETURNING *) SELECT count(*) FROM d",
            true,
            Err(WarehouseError::Sql {
                message: "DECLARE CURSOR must not contain data-modifying statements in WITH".into(),
                position: None,
                detail: None,
                hint: None,
                code: Some("SQLSTATE 0A000".into()),
            }),
        ),
    ];
    for (sql, cursorable, expected) in cases {
        let statement = ReadOnlyStatement {
            kind: "SELECT",
            sql: sql.into(),
            cursorable,
        };
        let outcome = warehouse
            .query(&ctx(), &statement, 10, &QueryLimits::default())
            .await
            .map(|_| ());
        assert_eq!(outcome, expected, "{sql}");
    }
    assert_eq!(db.fingerprint().await, before);
}

#[tokio::test]
async fn unreachable_warehouse_is_a_tool_error() {
    let warehouse = steward_tools::warehouse::postgres::PgWarehouse::new(
        sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(std::time::Duration::from_millis(500))
            .connect_lazy("postgres://postgres@127.0.0.1:1/none")
            .unwrap(),
        vec![],
    );
    let err = warehouse.ping().await.unwrap_err();
    assert!(
        matches!(&err, WarehouseError::Unavailable(m) if m.contains("Connection refused")),
        "{err:?}"
    );
}
