mod config_check;
mod describe_table;
mod list_tables;
mod mcp_http;
mod mcp_stdio;
mod query_warehouse;
mod refusal_matrix;
mod registry;
