//! `execute_statement`: runs one write or DDL statement on the warehouse. Destructive: it only
//! runs after the pipeline's policy and approval gate; its description (kind, tables, schemas,
//! estimated rows) is what policies and approvers see.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::tool::{Annotations, CallContext, ToolError, TypedTool};
use crate::warehouse::write_statement::parse_write;
use crate::warehouse::{QueryLimits, Warehouse, WarehouseError, WriteStatement};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// One write or DDL statement (INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER, DROP,
    /// TRUNCATE...). It runs only after policy allows it and, when required, people approve
    /// exactly this text.
    pub sql: String,
}

/// What the statement did.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Output {
    pub statement_kind: String,
    /// Tables the statement touched, qualified.
    pub tables: Vec<String>,
    /// Rows inserted, updated or deleted (0 for DDL).
    pub rows_affected: u64,
}

pub struct ExecuteStatement {
    warehouse: Arc<dyn Warehouse>,
    limits: QueryLimits,
}

impl ExecuteStatement {
    pub fn new(warehouse: Arc<dyn Warehouse>, limits: QueryLimits) -> Self {
        Self { warehouse, limits }
    }
}

impl ExecuteStatement {
    /// The statement and its tables, qualified the way the warehouse resolves them. Refuses
    /// names it cannot bind exactly and anything in the system's or Steward's own schemas.
    async fn parse(
        &self,
        ctx: &CallContext,
        sql: &str,
    ) -> Result<(WriteStatement, Vec<String>, Vec<String>), ToolError> {
        let statement = parse_write(sql, self.warehouse.dialect()).map_err(ToolError::Refused)?;
        let tables = self
            .warehouse
            .qualify(ctx, &statement.tables)
            .await
            .map_err(|e| match e {
                e @ WarehouseError::BadTableName { .. } => {
                    ToolError::Refused(format!("refused: {e}"))
                }
                e => ToolError::Failed(e.to_string()),
            })?;
        let mut schemas: Vec<String> = tables
            .iter()
            .filter_map(|t| t.rsplit_once('.').map(|(schema, _)| schema.to_string()))
            .chain(statement.schemas.iter().cloned())
            .collect();
        schemas.sort();
        schemas.dedup();
        let internal = self.warehouse.internal_schemas();
        if let Some(schema) = schemas.iter().find(|s| internal.contains(s)) {
            return Err(ToolError::Refused(format!(
                "refused: schema {schema} belongs to the database system or to Steward itself \
                 (approvals, audit ledger) and is never changed through execute_statement"
            )));
        }
        Ok((statement, tables, schemas))
    }
}

impl TypedTool for ExecuteStatement {
    type Params = Params;
    type Output = Output;
    const NAME: &'static str = "execute_statement";
    const TITLE: &'static str = "Execute a write or DDL statement (needs approval)";
    const DESCRIPTION: &'static str = "Run exactly one write or DDL statement on the warehouse \
        (INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER, DROP, TRUNCATE). Policies decide whether \
        it runs, needs human approval (bound to this exact statement) or is denied; the result \
        says `pending_approval` with an approval id while people decide.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: false,
    };

    async fn describe(&self, ctx: &CallContext, params: &Params) -> Result<Value, ToolError> {
        let (statement, tables, schemas) = self.parse(ctx, &params.sql).await?;
        let plan = self
            .warehouse
            .plan_write(ctx, &statement, &tables)
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        // The database's plan is the authority on what a DML statement modifies: a table the
        // text does not show means the parser and the database disagree.
        if let Some(modified) = &plan.modified_tables
            && let Some(hidden) = modified.iter().find(|t| !tables.contains(t))
        {
            return Err(ToolError::Refused(format!(
                "refused: the database would also modify {hidden}, which this statement's text \
                 does not name as a target"
            )));
        }
        let rows_estimate = plan.rows_estimate;
        Ok(serde_json::json!({
            "statement_kind": statement.kind,
            "tables": tables,
            "schemas": schemas,
            "rows_estimate": rows_estimate,
            "cascade": statement.cascade,
            "changes_owner": statement.changes_owner,
            "sql": statement.sql,
        }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<Output, ToolError> {
        let (statement, tables, _) = self.parse(ctx, &params.sql).await?;
        let rows_affected = self
            .warehouse
            .execute_write(ctx, &statement, &self.limits)
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        Ok(Output {
            statement_kind: statement.kind,
            tables,
            rows_affected,
        })
    }
}
