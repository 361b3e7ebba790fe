//! `describe_table`: one table's columns (type, nullability, default, comment), its size
//! estimate and a few sample rows, so a model can write correct SQL against it.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::tool::{Annotations, CallContext, ToolError, TypedTool};
use crate::warehouse::{QueryLimits, TableDescription, Warehouse};

/// Most sample rows one call may ask for.
pub const MAX_SAMPLE_ROWS: usize = 20;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Table to describe: `table` or `schema.table` (SQL quoting allowed, e.g. `"My Schema".t`).
    pub table: String,
    /// Sample rows to include (0-20, default 5).
    #[serde(default = "default_sample_rows")]
    pub sample_rows: usize,
}

fn default_sample_rows() -> usize {
    5
}

pub struct DescribeTable {
    warehouse: Arc<dyn Warehouse>,
    limits: QueryLimits,
}

impl DescribeTable {
    pub fn new(warehouse: Arc<dyn Warehouse>, limits: QueryLimits) -> Self {
        Self { warehouse, limits }
    }
}

impl TypedTool for DescribeTable {
    type Params = Params;
    type Output = TableDescription;
    const NAME: &'static str = "describe_table";
    const TITLE: &'static str = "Describe a warehouse table";
    const DESCRIPTION: &'static str = "Describe one table or view: columns with type, \
        nullability, default and comment; the estimated row count; and a few sample rows.";
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
        Ok(serde_json::json!({ "table": params.table, "sample_rows": params.sample_rows }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<TableDescription, ToolError> {
        if params.sample_rows > MAX_SAMPLE_ROWS {
            return Err(ToolError::InvalidParams {
                tool: Self::NAME,
                message: format!(
                    "sample_rows: {} is above the maximum of {MAX_SAMPLE_ROWS}",
                    params.sample_rows
                ),
            });
        }
        self.warehouse
            .describe_table(ctx, &params.table, params.sample_rows, &self.limits)
            .await
            .map_err(|e| ToolError::Failed(e.to_string()))
    }
}
