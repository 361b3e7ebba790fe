//! `list_tables` against the real demo warehouse.

use pretty_assertions::assert_eq;
use serde_json::json;
use steward_tools::{QueryLimits, ToolError};

use crate::common::{TestDb, ctx};

#[tokio::test]
async fn lists_demo_tables_with_kind_estimate_and_comment() {
    let db = TestDb::new().await;
    let out = db
        .tool("list_tables", QueryLimits::default())
        .call(&ctx(), json!({"schema": "gold"}))
        .await
        .unwrap();
    let tables = out["tables"].as_array().unwrap();
    let names: Vec<(&str, &str, &str)> = tables
        .iter()
        .map(|t| {
            (
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap(),
                t["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            ("gold", "customer_features", "table"),
            ("gold", "customers", "table"),
            ("gold", "orders", "table"),
        ]
    );
    let orders = &tables[2];
    assert_eq!(orders["row_estimate"], json!(5000));
    assert!(orders["comment"].as_str().unwrap().len() > 10, "{orders}");
}

#[tokio::test]
async fn without_a_schema_lists_everything_but_steward_and_catalogs() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    sqlx::raw_sql("CREATE SCHEMA ops; CREATE VIEW ops.recent AS SELECT 1 AS x")
        .execute(&pool)
        .await
        .unwrap();
    let out = db
        .tool("list_tables", QueryLimits::default())
        .call(&ctx(), json!({}))
        .await
        .unwrap();
    let qualified: Vec<String> = out["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}.{} ({})",
                t["schema"].as_str().unwrap(),
                t["name"].as_str().unwrap(),
                t["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        qualified,
        vec![
            "gold.customer_features (table)",
            "gold.customers (table)",
            "gold.orders (table)",
            "ops.recent (view)",
        ]
    );
}

#[tokio::test]
async fn unknown_schema_names_the_available_ones() {
    let db = TestDb::new().await;
    let err = db
        .tool("list_tables", QueryLimits::default())
        .call(&ctx(), json!({"schema": "silver"}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ToolError::Failed("schema \"silver\" not found; available schemas: gold, public".into())
    );
}

#[tokio::test]
async fn existing_empty_schema_is_an_empty_list() {
    let db = TestDb::new().await;
    let out = db
        .tool("list_tables", QueryLimits::default())
        .call(&ctx(), json!({"schema": "public"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"tables": []}));
}
