//! `list_tables`: the tables, views and materialized views a user can query, with size
//! estimates and comments, optionally for one schema.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::tool::{Annotations, CallContext, ToolError, TypedTool};
use crate::warehouse::{TableSummary, Warehouse};

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Only list tables in this schema (exact name, e.g. "gold").
    #[serde(default)]
    pub schema: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Output {
    pub tables: Vec<TableSummary>,
}

pub struct ListTables {
    warehouse: Arc<dyn Warehouse>,
}

impl ListTables {
    pub fn new(warehouse: Arc<dyn Warehouse>) -> Self {
        Self { warehouse }
    }
}

impl TypedTool for ListTables {
    type Params = Params;
    type Output = Output;
    const NAME: &'static str = "list_tables";
    const TITLE: &'static str = "List warehouse tables";
    const DESCRIPTION: &'static str = "List the tables, views and materialized views in the \
        warehouse with their schema, kind, estimated row count and comment. Pass `schema` to \
        list one schema only.";
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
        Ok(serde_json::json!({ "schema": params.schema }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<Output, ToolError> {
        let tables = self
            .warehouse
            .list_tables(ctx, params.schema.as_deref())
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))?;
        Ok(Output { tables })
    }
}
