//! The warehouse backend contract: listing and describing tables and running one checked
//! read-only statement under row, byte and time limits. Postgres is implemented here; the
//! tools above only see [`Warehouse`].

pub mod names;
pub mod postgres;
pub mod sql_guard;
pub mod trino;
pub mod write_statement;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sqlparser::dialect::Dialect;

use crate::tool::CallContext;

pub use sql_guard::{ReadOnlyStatement, Refusal};
pub use write_statement::WriteStatement;

/// One table-like object a user can query.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TableSummary {
    pub schema: String,
    pub name: String,
    /// table, view, materialized view, partitioned table or foreign table.
    pub kind: String,
    /// Planner estimate of the row count; null when the table was never analysed.
    pub row_estimate: Option<i64>,
    /// The table's comment, when it has one.
    pub comment: Option<String>,
}

/// One column of a described table.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ColumnInfo {
    pub name: String,
    /// Database type as the database spells it (e.g. `numeric(12,2)`).
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
    /// Default expression, when the column has one.
    pub default: Option<String>,
    pub comment: Option<String>,
}

/// Name and database type of one result column.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ResultColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
}

/// Why a result holds fewer rows than the statement produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TruncationReason {
    /// The row cap was reached.
    RowCap,
    /// The encoded rows reached the byte cap.
    ByteCap,
}

/// Rows of one statement, with explicit truncation (never silent).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct QueryResult {
    pub columns: Vec<ResultColumn>,
    /// One array per row, values in column order. Integers, floats and booleans are JSON
    /// numbers/booleans, json/jsonb are JSON, NULL is null; everything else (numeric, dates,
    /// timestamps, uuids, arrays) is the database's text form so no precision is lost.
    pub rows: Vec<Vec<Value>>,
    /// Number of rows returned here.
    pub row_count: usize,
    /// True when more rows existed than were returned.
    pub truncated: bool,
    /// Which cap cut the result, when `truncated`.
    pub truncation: Option<TruncationReason>,
    /// The row cap in force for this call.
    pub row_cap: usize,
    /// The byte cap in force for this call.
    pub byte_cap: usize,
}

/// Limits applied to one read-only statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Rows returned when the caller does not ask for fewer.
    pub default_rows: usize,
    /// Most rows any call may ask for.
    pub max_rows: usize,
    /// Most bytes of JSON-encoded rows returned.
    pub max_bytes: usize,
    /// Statement timeout enforced by the database.
    pub timeout_ms: u64,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            default_rows: 500,
            max_rows: 10_000,
            max_bytes: 1024 * 1024,
            timeout_ms: 30_000,
        }
    }
}

/// A table's columns, size and a few sample rows.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TableDescription {
    pub schema: String,
    pub name: String,
    pub kind: String,
    pub comment: Option<String>,
    pub row_estimate: Option<i64>,
    pub columns: Vec<ColumnInfo>,
    /// Up to the requested number of rows, as a capped query result.
    pub sample: QueryResult,
}

/// The database's own view of a write, before it runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WritePlan {
    pub rows_estimate: Option<i64>,
    /// Qualified tables the plan modifies (DML only; None when the backend cannot say).
    pub modified_tables: Option<Vec<String>>,
}

/// What went wrong talking to the warehouse; every message says what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarehouseError {
    #[error("schema {schema:?} not found; available schemas: {}", available.join(", "))]
    SchemaNotFound {
        schema: String,
        available: Vec<String>,
    },
    #[error("table {table:?} not found{}", suggestion_suffix(.suggestions))]
    TableNotFound {
        table: String,
        suggestions: Vec<String>,
    },
    #[error("table name {table:?} is ambiguous; qualify it with a schema: {}", candidates.join(", "))]
    AmbiguousTable {
        table: String,
        candidates: Vec<String>,
    },
    #[error("invalid table name {table:?}: {reason}")]
    BadTableName { table: String, reason: String },
    #[error("{}", sql_error_message(.message, .position, .detail, .hint, .code))]
    Sql {
        message: String,
        /// 1-based character position in the submitted SQL.
        position: Option<usize>,
        detail: Option<String>,
        hint: Option<String>,
        /// "SQLSTATE 42703" (Postgres) or Trino's errorName ("SYNTAX_ERROR").
        code: Option<String>,
    },
    #[error("statement cancelled after exceeding the statement timeout of {limit_ms} ms")]
    Timeout { limit_ms: u64 },
    #[error("the warehouse refused a write inside the read-only transaction: {0}")]
    ReadOnlyViolation(String),
    #[error("warehouse unavailable: {0}")]
    Unavailable(String),
    #[error("cancelled by the caller")]
    Cancelled,
    #[error("{what} {name:?} is outside the allowlist ({})", allowed.join(", "))]
    OutsideAllowlist {
        what: &'static str,
        name: String,
        allowed: Vec<String>,
    },
}

fn suggestion_suffix(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean: {}?", suggestions.join(", "))
    }
}

fn sql_error_message(
    message: &str,
    position: &Option<usize>,
    detail: &Option<String>,
    hint: &Option<String>,
    code: &Option<String>,
) -> String {
    let mut out = format!("database error: {message}");
    if let Some(code) = code {
        out.push_str(&format!(" ({code})"));
    }
    if let Some(position) = position {
        out.push_str(&format!(" at character {position}"));
    }
    if let Some(detail) = detail {
        out.push_str(&format!("; detail: {detail}"));
    }
    if let Some(hint) = hint {
        out.push_str(&format!("; hint: {hint}"));
    }
    out
}

/// A SQL warehouse Steward can inspect and query read-only.
#[async_trait]
pub trait Warehouse: Send + Sync {
    /// Backend name for messages and `config check` ("postgres", later "trino").
    fn kind(&self) -> &'static str;
    /// SQL dialect used to check statements before they reach the backend.
    fn dialect(&self) -> &dyn Dialect;
    /// Round trip to the backend; returns its version string.
    async fn ping(&self) -> Result<String, WarehouseError>;
    async fn list_tables(
        &self,
        ctx: &CallContext,
        schema: Option<&str>,
    ) -> Result<Vec<TableSummary>, WarehouseError>;
    /// `table` is `name` or `schema.name`, with SQL quoting allowed.
    async fn describe_table(
        &self,
        ctx: &CallContext,
        table: &str,
        sample_rows: usize,
        limits: &QueryLimits,
    ) -> Result<TableDescription, WarehouseError>;
    /// Qualifies table names the way the warehouse would resolve them ("schema.table").
    async fn qualify(
        &self,
        ctx: &CallContext,
        tables: &[names::TableName],
    ) -> Result<Vec<String>, WarehouseError>;
    /// What the database plans for a write, without running it: estimated rows and, where the
    /// backend can tell, every table the plan would modify.
    async fn plan_write(
        &self,
        ctx: &CallContext,
        statement: &WriteStatement,
        qualified_tables: &[String],
    ) -> Result<WritePlan, WarehouseError>;
    /// Schemas that belong to the system or to Steward itself: never changed by tools.
    fn internal_schemas(&self) -> Vec<String>;
    /// Runs one write statement in its own transaction; returns the rows affected.
    async fn execute_write(
        &self,
        ctx: &CallContext,
        statement: &WriteStatement,
        limits: &QueryLimits,
    ) -> Result<u64, WarehouseError>;
    /// Runs one statement already accepted by [`sql_guard::check_read_only`].
    async fn query(
        &self,
        ctx: &CallContext,
        statement: &ReadOnlyStatement,
        row_cap: usize,
        limits: &QueryLimits,
    ) -> Result<QueryResult, WarehouseError>;
}
