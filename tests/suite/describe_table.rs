//! `describe_table` against the real demo warehouse.

use pretty_assertions::assert_eq;
use serde_json::json;
use steward_tools::{QueryLimits, ToolError};

use crate::common::{TestDb, ctx};

#[tokio::test]
async fn describes_columns_estimate_and_sample_rows() {
    let db = TestDb::new().await;
    let out = db
        .tool("describe_table", QueryLimits::default())
        .call(&ctx(), json!({"table": "Gold.Orders", "sample_rows": 3}))
        .await
        .unwrap();
    assert_eq!(out["schema"], "gold");
    assert_eq!(out["name"], "orders");
    assert_eq!(out["kind"], "table");
    assert_eq!(out["row_estimate"], 5000);
    let columns: Vec<(String, String, bool)> = out["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["type"].as_str().unwrap().to_string(),
                c["nullable"].as_bool().unwrap(),
            )
        })
        .collect();
    let expected_columns: Vec<(String, String, bool)> = sqlx::query_as(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
         FROM pg_attribute a WHERE a.attrelid = 'gold.orders'::regclass AND a.attnum > 0
           AND NOT a.attisdropped ORDER BY a.attnum",
    )
    .fetch_all(&db.pool().await)
    .await
    .unwrap();
    assert_eq!(columns, expected_columns);
    assert_eq!(columns[0], ("order_id".into(), "bigint".into(), false));
    assert_eq!(out["sample"]["row_count"], 3);
    assert_eq!(out["sample"]["rows"].as_array().unwrap().len(), 3);
    // LIMIT 3 under a cap of 3: nothing was cut.
    assert_eq!(out["sample"]["truncated"], false);
    assert_eq!(
        out["sample"]["columns"][0],
        json!({"name": "order_id", "type": "int8"})
    );
}

#[tokio::test]
async fn unknown_table_names_it_and_suggests_close_matches() {
    let db = TestDb::new().await;
    let err = db
        .tool("describe_table", QueryLimits::default())
        .call(&ctx(), json!({"table": "gold.order"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed("table \"gold.order\" not found; did you mean: gold.orders?".into())
    );
    let err = db
        .tool("describe_table", QueryLimits::default())
        .call(&ctx(), json!({"table": "customer"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed(
            "table \"customer\" not found; did you mean: gold.customers, gold.customer_features?"
                .into()
        )
    );
    let err = db
        .tool("describe_table", QueryLimits::default())
        .call(&ctx(), json!({"table": "zzz_nothing"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed("table \"zzz_nothing\" not found".into())
    );
}

#[tokio::test]
async fn ambiguous_and_malformed_names_are_explained() {
    let db = TestDb::new().await;
    sqlx::raw_sql(
        "CREATE SCHEMA a; CREATE SCHEMA b; CREATE TABLE a.t (x int); CREATE TABLE b.t (x int)",
    )
    .execute(&db.pool().await)
    .await
    .unwrap();
    let tool = db.tool("describe_table", QueryLimits::default());
    assert_eq!(
        tool.call(&ctx(), json!({"table": "t"})).await.unwrap_err(),
        ToolError::Failed(
            "table name \"t\" is ambiguous; qualify it with a schema: a.t, b.t".into()
        )
    );
    assert_eq!(
        tool.call(&ctx(), json!({"table": "a.b.c"}))
            .await
            .unwrap_err(),
        ToolError::Failed(
            "invalid table name \"a.b.c\": expected `table` or `schema.table`, got 3 parts".into()
        )
    );
    assert_eq!(
        tool.call(&ctx(), json!({"table": "gold.orders", "sample_rows": 21}))
            .await
            .unwrap_err(),
        ToolError::InvalidParams {
            tool: "describe_table",
            message: "sample_rows: 21 is above the maximum of 20".into()
        }
    );
}

#[tokio::test]
async fn steward_storage_tables_are_not_describable() {
    let db = TestDb::new().await;
    let err = db
        .tool("describe_table", QueryLimits::default())
        .call(&ctx(), json!({"table": "steward.tool_calls"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed("table \"steward.tool_calls\" not found".into())
    );
}
