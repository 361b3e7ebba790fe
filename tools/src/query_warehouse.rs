//! `query_warehouse`: runs exactly one read-only SQL statement. The statement is checked on
//! its syntax tree first (writes are refused before reaching the database), then runs in a
//! read-only transaction with a timeout; results are capped and say so when they are.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::tool::{Annotations, CallContext, ToolError, TypedTool};
use crate::warehouse::sql_guard::check_read_only;
use crate::warehouse::{QueryLimits, QueryResult, Warehouse};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// One read-only statement: SELECT, WITH ... SELECT, VALUES, SHOW, DESCRIBE or EXPLAIN
    /// (without ANALYZE).
    pub sql: String,
    /// Most rows to return (default and maximum are set by the server, typically 500 and
    /// 10000). The result says `truncated: true` when more rows existed.
    #[serde(default)]
    pub max_rows: Option<usize>,
}

pub struct QueryWarehouse {
    warehouse: Arc<dyn Warehouse>,
    limits: QueryLimits,
}

impl QueryWarehouse {
    pub fn new(warehouse: Arc<dyn Warehouse>, limits: QueryLimits) -> Self {
        Self { warehouse, limits }
    }
}

impl TypedTool for QueryWarehouse {
    type Params = Params;
    type Output = QueryResult;
    const NAME: &'static str = "query_warehouse";
    const TITLE: &'static str = "Query the warehouse (read-only)";
    const DESCRIPTION: &'static str = "Run exactly one read-only SQL statement (SELECT, WITH \
        ... SELECT, VALUES, SHOW, DESCRIBE, EXPLAIN without ANALYZE) and return columns and \
        rows. Writes, DDL, COPY, CALL, locking clauses and multiple statements are refused. \
        Results are capped; `truncated: true` means more rows existed.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };

    async fn describe(
        &self,
        _: &CallContext,
        params: &Params,
    ) -> Result<serde_json::Value, ToolError> {
        let statement = check_read_only(&params.sql, self.warehouse.dialect())
            .map_err(|refusal| ToolError::Refused(refusal.to_string()))?;
        Ok(serde_json::json!({ "statement_kind": statement.kind }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<QueryResult, ToolError> {
        let row_cap = match params.max_rows {
            None => self.limits.default_rows,
            Some(0) => {
                return Err(ToolError::InvalidParams {
                    tool: Self::NAME,
                    message: "max_rows: must be at least 1".into(),
                });
            }
            Some(n) if n > self.limits.max_rows => {
                return Err(ToolError::InvalidParams {
                    tool: Self::NAME,
                    message: format!(
                        "max_rows: {n} is above the server's maximum of {}",
                        self.limits.max_rows
                    ),
                });
            }
            Some(n) => n,
        };
        let statement = check_read_only(&params.sql, self.warehouse.dialect())
            .map_err(|refusal| ToolError::Refused(refusal.to_string()))?;
        self.warehouse
            .query(ctx, &statement, row_cap, &self.limits)
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))
    }
}
