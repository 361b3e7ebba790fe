//! Storage and the tool registry: migrations are idempotent and every call is recorded with
//! its outcome, without its arguments.

use pretty_assertions::assert_eq;
use serde_json::json;
use steward::app::App;
use steward::principal::{Channel, Principal};
use steward::registry::CallError;

use crate::common::TestDb;

#[tokio::test]
async fn migrations_apply_once_and_calls_are_recorded() {
    let db = TestDb::new().await;
    // The template is already migrated: starting twice more must change nothing.
    let app = App::start(db.config()).await.unwrap();
    App::start(db.config()).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM steward._sqlx_migrations")
        .fetch_one(&app.storage)
        .await
        .unwrap();
    assert_eq!(
        applied,
        steward::storage::migrations().iter().count() as i64
    );

    let alice = Principal {
        id: "alice".into(),
        groups: vec![],
    };
    let registry = &app.registry;
    registry
        .call(
            &alice,
            Channel::Cli,
            "query_warehouse",
            json!({"sql": "SELECT 'secret-value'"}),
        )
        .await
        .unwrap();
    let refused = registry
        .call(
            &alice,
            Channel::McpHttp,
            "query_warehouse",
            json!({"sql": "DELETE FROM gold.orders"}),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, CallError::Tool(_)));
    let unknown = registry
        .call(&alice, Channel::McpStdio, "drop_everything", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "unknown tool \"drop_everything\"; available tools: list_tables, describe_table, query_warehouse"
    );
    let bad = registry
        .call(&alice, Channel::Cli, "query_warehouse", json!({"sql": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "invalid arguments for query_warehouse: sql: invalid type: integer `1`, expected a string"
    );

    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT channel, principal, tool, outcome, error FROM steward.tool_calls ORDER BY id",
    )
    .fetch_all(&app.storage)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("cli".into(), "alice".into(), "query_warehouse".into(), "ok".into(), None),
            (
                "mcp-http".into(),
                "alice".into(),
                "query_warehouse".into(),
                "refused".into(),
                Some(
                    "refused: DELETE is not read-only; query_warehouse only runs SELECT, WITH ... \
                     SELECT, VALUES, SHOW, DESCRIBE and EXPLAIN"
                        .into()
                )
            ),
            ("mcp-stdio".into(), "alice".into(), "drop_everything".into(), "unknown_tool".into(), None),
            (
                "cli".into(),
                "alice".into(),
                "query_warehouse".into(),
                "invalid_params".into(),
                Some("invalid arguments for query_warehouse: sql: invalid type: integer `1`, expected a string".into())
            ),
        ]
    );
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM steward.tool_calls t WHERE t::text LIKE '%secret-value%'",
    )
    .fetch_one(&app.storage)
    .await
    .unwrap();
    assert_eq!(leaked, 0, "arguments must be stored as a hash only");
}
