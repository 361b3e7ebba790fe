//! Steward's tools: one MCP tool per file, each with typed parameters, typed output and truthful
//! annotations, plus the connectors they use. The runtime (`steward`) serves these over MCP and
//! runs them from its agent through one pipeline; this crate knows nothing about transports.

pub mod describe_table;
pub mod execute_statement;
pub mod list_tables;
pub mod query_warehouse;
pub mod tool;
pub mod warehouse;

use std::sync::Arc;

pub use tool::{Annotations, CallContext, Tool, ToolError, ToolSpec};
pub use warehouse::{QueryLimits, Warehouse};

/// Every tool Steward offers for a warehouse backend, in the order clients list them.
pub fn warehouse_tools(warehouse: Arc<dyn Warehouse>, limits: QueryLimits) -> Vec<Arc<dyn Tool>> {
    vec![
        tool::register(list_tables::ListTables::new(warehouse.clone())),
        tool::register(describe_table::DescribeTable::new(
            warehouse.clone(),
            limits,
        )),
        tool::register(query_warehouse::QueryWarehouse::new(
            warehouse.clone(),
            limits,
        )),
        tool::register(execute_statement::ExecuteStatement::new(warehouse, limits)),
    ]
}
