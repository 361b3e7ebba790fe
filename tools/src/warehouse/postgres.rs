//! Postgres warehouse backend. Every statement runs in a READ ONLY transaction with a
//! statement timeout; queries stream through a cursor so row and byte caps stop the work early.

use async_trait::async_trait;
use serde_json::Value;
use sqlparser::dialect::{Dialect, PostgreSqlDialect};
use sqlx::postgres::{
    PgConnection, PgDatabaseError, PgErrorPosition, PgPool, PgRow, PgValueFormat,
};
use sqlx::{
    AssertSqlSafe, Column, Connection, Executor, Postgres, Row, SqlSafeStr, Statement, Transaction,
    TypeInfo, ValueRef,
};

use super::names::{TableName, close_matches, parse_table_name, quote_ident};
use super::{
    ColumnInfo, QueryLimits, QueryResult, ReadOnlyStatement, ResultColumn, TableDescription,
    TableSummary, TruncationReason, Warehouse, WarehouseError, WritePlan, WriteStatement,
};
use crate::tool::CallContext;

/// Schemas that are never shown: the catalogs and Steward's own storage.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema", "pg_toast"];
const CURSOR_PREFIX: &str = "DECLARE steward_rows NO SCROLL CURSOR FOR ";
const FETCH_BATCH: usize = 200;

/// A Postgres database used as the warehouse.
pub struct PgWarehouse {
    pool: PgPool,
    dialect: PostgreSqlDialect,
    hidden_schemas: Vec<String>,
    /// Limit for planning a write (EXPLAIN) while describing it.
    plan_timeout_ms: u64,
}

impl PgWarehouse {
    /// `hidden_schemas` are left out of listings and lookups (e.g. Steward's own `steward`).
    pub fn new(pool: PgPool, hidden_schemas: Vec<String>) -> Self {
        let mut hidden: Vec<String> = SYSTEM_SCHEMAS.iter().map(|s| s.to_string()).collect();
        hidden.extend(hidden_schemas);
        Self {
            pool,
            dialect: PostgreSqlDialect {},
            hidden_schemas: hidden,
            plan_timeout_ms: 10_000,
        }
    }

    async fn schemas(&self) -> Result<Vec<String>, WarehouseError> {
        sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace
             WHERE NOT (nspname = ANY($1)) AND nspname NOT LIKE 'pg\\_%' ORDER BY 1",
        )
        .bind(&self.hidden_schemas)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| map_error(e, 0, 0))
    }

    async fn tables(
        &self,
        schema: Option<&str>,
        name: Option<&str>,
    ) -> Result<Vec<(TableSummary, u32, bool)>, WarehouseError> {
        let rows = sqlx::query(
            "SELECT n.nspname::text, c.relname::text,
                    CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view'
                         WHEN 'm' THEN 'materialized view' WHEN 'p' THEN 'partitioned table'
                         ELSE 'foreign table' END,
                    CASE WHEN c.relkind IN ('v', 'f') OR c.reltuples < 0 THEN NULL
                         ELSE c.reltuples::bigint END,
                    obj_description(c.oid, 'pg_class'), c.oid, pg_table_is_visible(c.oid)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT c.relispartition
               AND NOT (n.nspname = ANY($1)) AND n.nspname NOT LIKE 'pg\\_%'
               AND ($2::text IS NULL OR n.nspname = $2)
               AND ($3::text IS NULL OR c.relname = $3)
             ORDER BY 1, 2",
        )
        .bind(&self.hidden_schemas)
        .bind(schema)
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| map_error(e, 0, 0))?;
        rows.into_iter()
            .map(|row| {
                let summary = TableSummary {
                    schema: row.try_get(0)?,
                    name: row.try_get(1)?,
                    kind: row.try_get(2)?,
                    row_estimate: row.try_get(3)?,
                    comment: row.try_get(4)?,
                };
                let oid: sqlx::postgres::types::Oid = row.try_get(5)?;
                Ok((summary, oid.0, row.try_get(6)?))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| map_error(e, 0, 0))
    }

    async fn columns(&self, oid: u32) -> Result<Vec<ColumnInfo>, WarehouseError> {
        let rows = sqlx::query(
            "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                    pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)
             FROM pg_attribute a
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
        )
        .bind(sqlx::postgres::types::Oid(oid))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| map_error(e, 0, 0))?;
        rows.into_iter()
            .map(|row| {
                Ok(ColumnInfo {
                    name: row.try_get(0)?,
                    data_type: row.try_get(1)?,
                    nullable: row.try_get(2)?,
                    default: row.try_get(3)?,
                    comment: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(|e| map_error(e, 0, 0))
    }

    /// Opens a transaction (`begin` is Steward's own fixed text) with a statement timeout.
    async fn begin(
        &self,
        begin: &'static str,
        timeout_ms: u64,
    ) -> Result<Transaction<'static, Postgres>, WarehouseError> {
        let mut tx = self
            .pool
            .begin_with(begin)
            .await
            .map_err(|e| map_error(e, 0, timeout_ms))?;
        sqlx::query(AssertSqlSafe(format!(
            "SET LOCAL statement_timeout = {timeout_ms}"
        )))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_error(e, 0, timeout_ms))?;
        Ok(tx)
    }

    async fn run_read_only(
        &self,
        ctx: &CallContext,
        sql: &str,
        cursorable: bool,
        row_cap: usize,
        limits: &QueryLimits,
    ) -> Result<QueryResult, WarehouseError> {
        cancellable(ctx, self.read_only(sql, cursorable, row_cap, limits)).await
    }

    async fn read_only(
        &self,
        sql: &str,
        cursorable: bool,
        row_cap: usize,
        limits: &QueryLimits,
    ) -> Result<QueryResult, WarehouseError> {
        let mut tx = self.begin("BEGIN READ ONLY", limits.timeout_ms).await?;
        let mut collector = RowCollector::new(row_cap, limits.max_bytes);
        let columns = if cursorable {
            fetch_through_cursor(&mut tx, sql, &mut collector, limits.timeout_ms).await?
        } else {
            fetch_all_binary(&mut tx, sql, &mut collector, limits.timeout_ms).await?
        };
        // Nothing was written (READ ONLY); rolling back also closes the cursor.
        tx.rollback()
            .await
            .map_err(|e| map_error(e, 0, limits.timeout_ms))?;
        Ok(collector.finish(columns))
    }
}

#[async_trait]
impl Warehouse for PgWarehouse {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    async fn ping(&self) -> Result<String, WarehouseError> {
        // A direct connection, not the pool: the pool reports every failure as a timeout.
        let mut connection = PgConnection::connect_with(&self.pool.connect_options())
            .await
            .map_err(|e| map_error(e, 0, 0))?;
        let version = sqlx::query_scalar("SELECT version()")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| map_error(e, 0, 0))?;
        connection.close().await.map_err(|e| map_error(e, 0, 0))?;
        Ok(version)
    }

    async fn list_tables(
        &self,
        _ctx: &CallContext,
        schema: Option<&str>,
    ) -> Result<Vec<TableSummary>, WarehouseError> {
        let tables = self.tables(schema, None).await?;
        if let Some(schema) = schema
            && tables.is_empty()
        {
            let available = self.schemas().await?;
            if !available.iter().any(|s| s == schema) {
                return Err(WarehouseError::SchemaNotFound {
                    schema: schema.to_string(),
                    available,
                });
            }
        }
        Ok(tables.into_iter().map(|(summary, _, _)| summary).collect())
    }

    async fn describe_table(
        &self,
        ctx: &CallContext,
        table: &str,
        sample_rows: usize,
        limits: &QueryLimits,
    ) -> Result<TableDescription, WarehouseError> {
        let parsed = parse_table_name(table, &self.dialect)?;
        let mut found = self
            .tables(parsed.schema.as_deref(), Some(&parsed.name))
            .await?;
        if found.len() > 1 && found.iter().filter(|(_, _, visible)| *visible).count() == 1 {
            // Unqualified and in several schemas: SQL would pick the one on the search path.
            found.retain(|(_, _, visible)| *visible);
        }
        let (summary, oid) = match found.as_slice() {
            [(summary, oid, _)] => (summary.clone(), *oid),
            [] => {
                let all = self.tables(None, None).await?;
                let names: Vec<String> = all
                    .iter()
                    .map(|(t, _, _)| format!("{}.{}", t.schema, t.name))
                    .collect();
                return Err(WarehouseError::TableNotFound {
                    table: table.to_string(),
                    suggestions: close_matches(table, names.iter().map(String::as_str)),
                });
            }
            many => {
                return Err(WarehouseError::AmbiguousTable {
                    table: table.to_string(),
                    candidates: many
                        .iter()
                        .map(|(t, _, _)| format!("{}.{}", t.schema, t.name))
                        .collect(),
                });
            }
        };
        let columns = self.columns(oid).await?;
        let sample_sql = format!(
            "SELECT * FROM {}.{} LIMIT {sample_rows}",
            quote_ident(&summary.schema),
            quote_ident(&summary.name)
        );
        let sample = self
            .run_read_only(ctx, &sample_sql, true, sample_rows, limits)
            .await?;
        Ok(TableDescription {
            schema: summary.schema,
            name: summary.name,
            kind: summary.kind,
            comment: summary.comment,
            row_estimate: summary.row_estimate,
            columns,
            sample,
        })
    }

    async fn qualify(
        &self,
        _ctx: &CallContext,
        tables: &[TableName],
    ) -> Result<Vec<String>, WarehouseError> {
        tables
            .iter()
            .map(|table| match &table.schema {
                Some(schema) => Ok(format!("{schema}.{}", table.name)),
                // search_path can differ between the approval and the run (other connection,
                // role settings): only names that say their schema are bound exactly.
                None => Err(WarehouseError::BadTableName {
                    table: table.name.clone(),
                    reason: format!(
                        "name its schema (e.g. public.{}); unqualified names resolve through \
                         search_path, which can change between approval and execution",
                        table.name
                    ),
                }),
            })
            .collect()
    }

    async fn plan_write(
        &self,
        _ctx: &CallContext,
        statement: &WriteStatement,
        qualified_tables: &[String],
    ) -> Result<WritePlan, WarehouseError> {
        if statement.is_dml {
            // Planned, never run: inside a read-only transaction with the timeout, so nothing
            // the planner evaluates can write or hang.
            let prefix = "EXPLAIN (VERBOSE, FORMAT JSON) ";
            let mut tx = self.begin("BEGIN READ ONLY", self.plan_timeout_ms).await?;
            let plan: Value =
                sqlx::query_scalar(AssertSqlSafe(format!("{prefix}{}", statement.sql)))
                    .persistent(false)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| map_error(e, prefix.len(), self.plan_timeout_ms))?;
            tx.rollback()
                .await
                .map_err(|e| map_error(e, 0, self.plan_timeout_ms))?;
            let top = &plan[0]["Plan"];
            let node = match top["Node Type"].as_str() {
                Some("ModifyTable") => &top["Plans"][0],
                _ => top,
            };
            // One plan per query the statement turns into: rules (DO ALSO) add more.
            let mut modified = Vec::new();
            for query in plan.as_array().into_iter().flatten() {
                collect_modified_tables(&query["Plan"], &mut modified);
            }
            modified.sort();
            modified.dedup();
            return Ok(WritePlan {
                rows_estimate: node["Plan Rows"].as_f64().map(|rows| rows.round() as i64),
                modified_tables: Some(modified),
            });
        }
        if statement.kind == "TRUNCATE" || statement.kind == "DROP TABLE" {
            let rows: Option<i64> = sqlx::query_scalar(
                "SELECT sum(greatest(c.reltuples, 0))::bigint FROM pg_class c
                 WHERE c.oid = ANY (SELECT to_regclass(t) FROM unnest($1::text[]) t)",
            )
            .bind(qualified_tables)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| map_error(e, 0, 0))?;
            return Ok(WritePlan {
                rows_estimate: rows,
                modified_tables: None,
            });
        }
        Ok(WritePlan::default())
    }

    fn internal_schemas(&self) -> Vec<String> {
        self.hidden_schemas.clone()
    }

    async fn execute_write(
        &self,
        ctx: &CallContext,
        statement: &WriteStatement,
        limits: &QueryLimits,
    ) -> Result<u64, WarehouseError> {
        // Not cancellable: a cancel racing the COMMIT could report a write that happened as
        // failed. The statement timeout bounds it instead.
        if ctx.cancel.is_cancelled() {
            return Err(WarehouseError::Cancelled);
        }
        self.write(statement, limits).await
    }

    async fn query(
        &self,
        ctx: &CallContext,
        statement: &ReadOnlyStatement,
        row_cap: usize,
        limits: &QueryLimits,
    ) -> Result<QueryResult, WarehouseError> {
        self.run_read_only(ctx, &statement.sql, statement.cursorable, row_cap, limits)
            .await
    }
}

impl PgWarehouse {
    async fn write(
        &self,
        statement: &WriteStatement,
        limits: &QueryLimits,
    ) -> Result<u64, WarehouseError> {
        let mut tx = self.begin("BEGIN READ WRITE", limits.timeout_ms).await?;
        // Extended protocol: Postgres refuses a second statement hidden in the text.
        let done = sqlx::query(AssertSqlSafe(statement.sql.clone()))
            .persistent(false)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_error(e, 0, limits.timeout_ms))?;
        tx.commit()
            .await
            .map_err(|e| map_error(e, 0, limits.timeout_ms))?;
        Ok(done.rows_affected())
    }
}

/// Every ModifyTable node of a JSON plan (CTEs included) as "schema.table".
fn collect_modified_tables(node: &Value, out: &mut Vec<String>) {
    if node["Node Type"] == "ModifyTable"
        && let (Some(schema), Some(table)) =
            (node["Schema"].as_str(), node["Relation Name"].as_str())
    {
        out.push(format!("{schema}.{table}"));
    }
    if let Some(children) = node["Plans"].as_array() {
        for child in children {
            collect_modified_tables(child, out);
        }
    }
}

/// Stops waiting when the caller cancels; dropping the query's future closes its connection,
/// which ends the statement server-side.
async fn cancellable<T>(
    ctx: &CallContext,
    work: impl std::future::Future<Output = Result<T, WarehouseError>>,
) -> Result<T, WarehouseError> {
    tokio::select! {
        result = work => result,
        _ = ctx.cancel.cancelled() => Err(WarehouseError::Cancelled),
    }
}

/// Declares a cursor over `sql` (extended protocol: Postgres itself refuses a second statement
/// there) and fetches in batches as text, so the caps stop the scan instead of trimming a
/// fully materialised result.
async fn fetch_through_cursor(
    tx: &mut Transaction<'static, Postgres>,
    sql: &str,
    collector: &mut RowCollector,
    timeout_ms: u64,
) -> Result<Vec<ResultColumn>, WarehouseError> {
    let prefix_chars = CURSOR_PREFIX.chars().count();
    sqlx::query(AssertSqlSafe(format!("{CURSOR_PREFIX}{sql}")))
        .persistent(false)
        .execute(&mut **tx)
        .await
        .map_err(|e| map_error(e, prefix_chars, timeout_ms))?;
    let mut columns = None;
    while collector.wants_more() {
        let batch = collector.remaining_with_probe().min(FETCH_BATCH);
        let rows = sqlx::raw_sql(AssertSqlSafe(format!("FETCH {batch} FROM steward_rows")))
            .fetch_all(&mut **tx)
            .await
            .map_err(|e| map_error(e, 0, timeout_ms))?;
        if columns.is_none()
            && let Some(first) = rows.first()
        {
            columns = Some(result_columns(first.columns()));
        }
        let exhausted = rows.len() < batch;
        for row in &rows {
            if !collector.push(text_row(row)?) {
                break;
            }
        }
        if exhausted {
            break;
        }
    }
    match columns {
        Some(columns) => Ok(columns),
        // No rows: ask the parser for the shape without executing anything again.
        None => {
            let statement = (&mut **tx)
                .prepare(AssertSqlSafe(sql.to_string()).into_sql_str())
                .await
                .map_err(|e| map_error(e, 0, timeout_ms))?;
            Ok(result_columns(statement.columns()))
        }
    }
}

/// SHOW and EXPLAIN cannot sit in a cursor; their output is small text (or json).
async fn fetch_all_binary(
    tx: &mut Transaction<'static, Postgres>,
    sql: &str,
    collector: &mut RowCollector,
    timeout_ms: u64,
) -> Result<Vec<ResultColumn>, WarehouseError> {
    let prepared = (&mut **tx)
        .prepare(AssertSqlSafe(sql.to_string()).into_sql_str())
        .await
        .map_err(|e| map_error(e, 0, timeout_ms))?;
    let columns = result_columns(prepared.columns());
    let rows = sqlx::query(AssertSqlSafe(sql.to_string()))
        .persistent(false)
        .fetch_all(&mut **tx)
        .await
        .map_err(|e| map_error(e, 0, timeout_ms))?;
    for row in &rows {
        let values = (0..row.len())
            .map(|i| binary_value(row, i))
            .collect::<Result<Vec<_>, _>>()?;
        if !collector.push(values) {
            break;
        }
    }
    Ok(columns)
}

fn result_columns(columns: &[sqlx::postgres::PgColumn]) -> Vec<ResultColumn> {
    columns
        .iter()
        .map(|c| ResultColumn {
            name: c.name().to_string(),
            data_type: c.type_info().name().to_lowercase(),
        })
        .collect()
}

fn text_row(row: &PgRow) -> Result<Vec<Value>, WarehouseError> {
    (0..row.len())
        .map(|i| {
            let raw = row.try_get_raw(i).map_err(|e| map_error(e, 0, 0))?;
            if raw.is_null() {
                return Ok(Value::Null);
            }
            let type_name = raw.type_info().name().to_string();
            let text = match raw.format() {
                PgValueFormat::Text => raw.as_str().map_err(decode_error)?,
                PgValueFormat::Binary => {
                    return Err(WarehouseError::Unavailable(
                        "unexpected binary value from a text-format fetch".into(),
                    ));
                }
            };
            Ok(json_from_text(&type_name, text))
        })
        .collect()
}

/// Converts Postgres' text form into JSON without losing precision.
fn json_from_text(type_name: &str, text: &str) -> Value {
    match type_name {
        "BOOL" => Value::Bool(text == "t"),
        "INT2" | "INT4" | "INT8" | "OID" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(text.into())),
        "FLOAT4" | "FLOAT8" => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Value::from(f),
            _ => Value::String(text.into()),
        },
        "JSON" | "JSONB" => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()))
        }
        _ => Value::String(text.into()),
    }
}

fn binary_value(row: &PgRow, index: usize) -> Result<Value, WarehouseError> {
    let raw = row.try_get_raw(index).map_err(|e| map_error(e, 0, 0))?;
    if raw.is_null() {
        return Ok(Value::Null);
    }
    let type_name = raw.type_info().name().to_string();
    let value = match type_name.as_str() {
        "JSON" | "JSONB" => row
            .try_get::<Value, _>(index)
            .map_err(|e| map_error(e, 0, 0))?,
        "BOOL" => Value::Bool(row.try_get(index).map_err(|e| map_error(e, 0, 0))?),
        "INT8" => Value::from(
            row.try_get::<i64, _>(index)
                .map_err(|e| map_error(e, 0, 0))?,
        ),
        "INT4" => Value::from(
            row.try_get::<i32, _>(index)
                .map_err(|e| map_error(e, 0, 0))?,
        ),
        _ => Value::String(row.try_get(index).map_err(|e| map_error(e, 0, 0))?),
    };
    Ok(value)
}

fn decode_error(e: sqlx::error::BoxDynError) -> WarehouseError {
    WarehouseError::Unavailable(format!("could not decode a value: {e}"))
}

/// Applies the row and byte caps while rows arrive; remembers why it stopped.
struct RowCollector {
    row_cap: usize,
    byte_cap: usize,
    bytes: usize,
    rows: Vec<Vec<Value>>,
    truncation: Option<TruncationReason>,
}

impl RowCollector {
    fn new(row_cap: usize, byte_cap: usize) -> Self {
        Self {
            row_cap,
            byte_cap,
            bytes: 0,
            rows: Vec::new(),
            truncation: None,
        }
    }

    fn wants_more(&self) -> bool {
        self.truncation.is_none()
    }

    /// Rows still to fetch, plus one to learn whether the cap cut anything.
    fn remaining_with_probe(&self) -> usize {
        self.row_cap.saturating_sub(self.rows.len()) + 1
    }

    /// Adds a row; returns false once a cap is reached (the row is then not kept).
    fn push(&mut self, row: Vec<Value>) -> bool {
        if self.rows.len() >= self.row_cap {
            self.truncation = Some(TruncationReason::RowCap);
            return false;
        }
        let size = serde_json::to_string(&row).map(|s| s.len()).unwrap_or(0);
        if self.bytes + size > self.byte_cap {
            self.truncation = Some(TruncationReason::ByteCap);
            return false;
        }
        self.bytes += size;
        self.rows.push(row);
        true
    }

    fn finish(self, columns: Vec<ResultColumn>) -> QueryResult {
        QueryResult {
            columns,
            row_count: self.rows.len(),
            rows: self.rows,
            truncated: self.truncation.is_some(),
            truncation: self.truncation,
            row_cap: self.row_cap,
            byte_cap: self.byte_cap,
        }
    }
}

/// Maps a driver error to what the caller can act on. `prefix_chars` is the length of text
/// Steward put before the user's SQL, removed from error positions so they point into it.
fn map_error(error: sqlx::Error, prefix_chars: usize, timeout_ms: u64) -> WarehouseError {
    if let Some(db) = error
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    {
        return match db.code() {
            "57014" => WarehouseError::Timeout {
                limit_ms: timeout_ms,
            },
            "25006" => WarehouseError::ReadOnlyViolation(db.message().to_string()),
            code => WarehouseError::Sql {
                message: db.message().to_string(),
                position: match db.position() {
                    Some(PgErrorPosition::Original(p)) if p > prefix_chars => {
                        Some(p - prefix_chars)
                    }
                    _ => None,
                },
                detail: db.detail().map(str::to_string),
                hint: db.hint().map(str::to_string),
                code: Some(format!("SQLSTATE {code}")),
            },
        };
    }
    WarehouseError::Unavailable(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    #[test]
    fn text_values_become_typed_json() {
        let cases = [
            ("BOOL", "t", json!(true)),
            ("BOOL", "f", json!(false)),
            ("INT8", "9007199254740993", json!(9007199254740993_i64)),
            ("FLOAT8", "1.5", json!(1.5)),
            ("FLOAT8", "NaN", json!("NaN")),
            ("FLOAT4", "-Infinity", json!("-Infinity")),
            (
                "NUMERIC",
                "12345678901234567890.01",
                json!("12345678901234567890.01"),
            ),
            ("JSONB", r#"{"a": [1, 2]}"#, json!({"a": [1, 2]})),
            (
                "TIMESTAMPTZ",
                "2026-11-30 00:00:00+00",
                json!("2026-11-30 00:00:00+00"),
            ),
            ("TEXT", "héllo", json!("héllo")),
        ];
        for (type_name, text, expected) in cases {
            assert_eq!(
                json_from_text(type_name, text),
                expected,
                "{type_name} {text}"
            );
        }
    }

    #[test]
    fn collector_marks_row_cap_truncation() {
        let mut collector = RowCollector::new(2, 1_000);
        assert!(collector.push(vec![json!(1)]));
        assert!(collector.push(vec![json!(2)]));
        assert!(!collector.push(vec![json!(3)]));
        let result = collector.finish(vec![]);
        assert_eq!(result.row_count, 2);
        assert_eq!(result.truncation, Some(TruncationReason::RowCap));
        assert!(result.truncated);
    }

    #[test]
    fn collector_marks_byte_cap_truncation() {
        let mut collector = RowCollector::new(100, 10);
        assert!(collector.push(vec![json!("abcd")])); // 8 bytes: ["abcd"]
        assert!(!collector.push(vec![json!("e")]));
        let result = collector.finish(vec![]);
        assert_eq!(result.row_count, 1);
        assert_eq!(result.truncation, Some(TruncationReason::ByteCap));
    }

    #[test]
    fn collector_without_overflow_is_not_truncated() {
        let mut collector = RowCollector::new(2, 1_000);
        assert!(collector.push(vec![json!(1)]));
        let result = collector.finish(vec![]);
        assert_eq!((result.truncated, result.truncation), (false, None));
    }
}
