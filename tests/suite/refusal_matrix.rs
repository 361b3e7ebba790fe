//! The `query_warehouse` refusal matrix against the real database: each statement is refused
//! or accepted exactly as listed, refused ones never reach the database, and nothing in the
//! database changes.

use pretty_assertions::assert_eq;
use serde_json::json;
use steward_tools::{QueryLimits, ToolError};

use crate::common::{TestDb, ctx};

const NOT_READ_ONLY: &str = "is not read-only; query_warehouse only runs SELECT, WITH ... SELECT, VALUES, SHOW, DESCRIBE and EXPLAIN";

fn not_read_only(kind: &str) -> Result<(), String> {
    Err(format!("refused: {kind} {NOT_READ_ONLY}"))
}

fn refused(message: &str) -> Result<(), String> {
    Err(format!("refused: {message}"))
}

#[tokio::test]
async fn refusal_matrix_is_exact_and_leaves_the_database_unchanged() {
    let db = TestDb::new().await;
    sqlx::raw_sql("CREATE SEQUENCE gold.ids; CREATE PROCEDURE gold.wipe() LANGUAGE sql AS $$ DELETE FROM gold.orders $$")
        .execute(&db.pool().await)
        .await
        .unwrap();
    let before = db.fingerprint().await;
    let tool = db.tool("query_warehouse", QueryLimits::default());

    let matrix = matrix();
    assert!(matrix.len() >= 50, "{}", matrix.len());

    let mut outcomes = Vec::new();
    for (sql, _) in &matrix {
        let outcome = match tool.call(&ctx(), json!({ "sql": sql })).await {
            Ok(_) => Ok(()),
            Err(ToolError::Refused(message)) => Err(message),
            Err(other) => Err(format!("unexpected non-refusal error: {other}")),
        };
        outcomes.push((*sql, outcome));
    }
    let expected: Vec<(&str, Result<(), String>)> = matrix;
    assert_eq!(outcomes, expected);
    assert_eq!(
        db.fingerprint().await,
        before,
        "a statement changed the database"
    );
}

#[tokio::test]
async fn unparseable_sql_is_refused_with_the_parser_message() {
    let db = TestDb::new().await;
    let err = db
        .tool("query_warehouse", QueryLimits::default())
        .call(&ctx(), json!({"sql": "SELEC 1"}))
        .await
        .unwrap_err();
    let ToolError::Refused(message) = err else {
        panic!("expected a refusal, got {err:?}");
    };
    assert!(
        message.starts_with("refused: could not parse SQL: "),
        "{message}"
    );
    assert!(message.contains("SELEC"), "{message}");
}

/// Every statement and whether query_warehouse accepts it (Ok) or refuses it (the message).
pub fn matrix() -> Vec<(&'static str, Result<(), String>)> {
    vec![
        // Accepted: read-only, including `;` inside literals and comments.
        ("SELECT count(*) FROM gold.orders", Ok(())),
        ("select 1;", Ok(())),
        ("SeLeCt CoUnT(*) FrOm GoLd.OrDeRs", Ok(())),
        ("WITH x AS (SELECT 1 AS a) SELECT * FROM x", Ok(())),
        ("VALUES (1), (2)", Ok(())),
        ("SELECT 1 UNION ALL SELECT 2", Ok(())),
        ("SELECT ';' AS semi", Ok(())),
        ("SELECT 'a;b'; ", Ok(())),
        ("SELECT 1 -- ; DELETE FROM gold.orders", Ok(())),
        ("SELECT 1 /* ; DROP TABLE gold.orders; */", Ok(())),
        (
            "SELECT 'DELETE FROM gold.orders' AS not_a_statement",
            Ok(()),
        ),
        (
            "SELECT \"número\" FROM (SELECT 1 AS \"número\") AS \"tablé\"",
            Ok(()),
        ),
        ("SELECT ñandú FROM (SELECT 2 AS ñandú) t", Ok(())),
        ("SHOW search_path", Ok(())),
        ("EXPLAIN SELECT * FROM gold.orders", Ok(())),
        (
            "SELECT * FROM gold.orders o WHERE o.order_id IN (SELECT order_id FROM gold.orders LIMIT 1)",
            Ok(()),
        ),
        // Refused: writes, including ones hidden in CTEs and subqueries.
        ("DELETE FROM gold.orders", not_read_only("DELETE")),
        (
            "delete from gold.orders where order_id = 1",
            not_read_only("DELETE"),
        ),
        (
            "INSERT INTO gold.orders (order_id) VALUES (1)",
            not_read_only("INSERT"),
        ),
        ("UPDATE gold.orders SET amount = 0", not_read_only("UPDATE")),
        (
            "MERGE INTO gold.orders o USING gold.customers c ON o.customer_id = c.customer_id WHEN MATCHED THEN DELETE",
            not_read_only("MERGE"),
        ),
        (
            "WITH d AS (DELETE FROM gold.orders RETURNING *) SELECT count(*) FROM d",
            refused("DELETE inside WITH clause (CTE d) is not read-only"),
        ),
        (
            "with u as (update gold.orders set amount = 0 returning *) select 1",
            refused("UPDATE inside WITH clause (CTE u) is not read-only"),
        ),
        (
            "WITH i AS (INSERT INTO gold.orders (order_id) VALUES (-1) RETURNING *) SELECT * FROM i",
            refused("INSERT inside WITH clause (CTE i) is not read-only"),
        ),
        (
            "SELECT * INTO gold.copy FROM gold.orders",
            refused("SELECT ... INTO creates a table; use execute_statement for writes"),
        ),
        (
            "SELECT * FROM gold.orders FOR UPDATE",
            refused("locking clause FOR UPDATE takes row locks; not allowed in a read-only query"),
        ),
        (
            "SELECT * FROM (SELECT * FROM gold.orders FOR SHARE) s",
            refused("locking clause FOR SHARE takes row locks; not allowed in a read-only query"),
        ),
        ("COPY gold.orders TO STDOUT", not_read_only("COPY")),
        ("COPY gold.orders FROM '/etc/passwd'", not_read_only("COPY")),
        ("CALL gold.wipe()", not_read_only("CALL")),
        (
            "EXPLAIN ANALYZE DELETE FROM gold.orders",
            refused("EXPLAIN ANALYZE executes the statement; use EXPLAIN without ANALYZE"),
        ),
        (
            "EXPLAIN (ANALYZE, BUFFERS) SELECT 1",
            refused("EXPLAIN ANALYZE executes the statement; use EXPLAIN without ANALYZE"),
        ),
        ("EXPLAIN DELETE FROM gold.orders", not_read_only("DELETE")),
        (
            "SELECT 1; DELETE FROM gold.orders",
            refused(
                "2 statements found (SELECT, DELETE); query_warehouse runs exactly one read-only statement",
            ),
        ),
        (
            "SELECT 1; SELECT 2",
            refused(
                "2 statements found (SELECT, SELECT); query_warehouse runs exactly one read-only statement",
            ),
        ),
        ("DROP TABLE gold.orders", not_read_only("DROP TABLE")),
        ("TRUNCATE gold.orders", not_read_only("TRUNCATE")),
        (
            "CREATE TABLE gold.x AS SELECT 1",
            not_read_only("CREATE TABLE AS"),
        ),
        (
            "ALTER TABLE gold.orders ADD COLUMN c int",
            not_read_only("ALTER TABLE"),
        ),
        (
            "GRANT SELECT ON gold.orders TO public",
            not_read_only("GRANT"),
        ),
        ("SET search_path = gold", not_read_only("SET")),
        ("BEGIN", not_read_only("BEGIN")),
        ("COMMIT", not_read_only("COMMIT")),
        ("LOCK TABLE gold.orders", not_read_only("LOCK")),
        (
            "SELECT pg_terminate_backend(pg_backend_pid())",
            refused(
                "function pg_terminate_backend has side effects; not allowed in a read-only query",
            ),
        ),
        (
            "SELECT pg_catalog.set_config('search_path', 'x', false)",
            refused(
                "function pg_catalog.set_config has side effects; not allowed in a read-only query",
            ),
        ),
        (
            "SELECT nextval('gold.ids')",
            refused("function nextval has side effects; not allowed in a read-only query"),
        ),
        (
            "SELECT query_to_xml('delete from gold.orders', true, false, '')",
            refused("function query_to_xml has side effects; not allowed in a read-only query"),
        ),
        (
            "WITH a AS (SELECT 2 >--'\n+1), d AS (DELETE FROM gold.orders RETURNING 1), e AS (SELECT 2 >--'\n+1) SELECT 1",
            refused(
                "operator `>--` is read differently by the database (`--` and `/*` start comments there); put a space before them",
            ),
        ),
        (
            "SELECT 1 >/* x */ 0",
            refused(
                "operator `>/*` is read differently by the database (`--` and `/*` start comments there); put a space before them",
            ),
        ),
        ("SELECT 1 > -- fine, a comment\n 0", Ok(())),
        ("", refused("no SQL statement found")),
        ("  ;  ", refused("no SQL statement found")),
        ("-- only a comment", refused("no SQL statement found")),
    ]
}
