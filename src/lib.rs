//! Steward's runtime: configuration, storage, the pipeline every channel shares (policy ->
//! approval gate -> execute -> audit), and the MCP server (stdio and streamable HTTP). Tools
//! themselves live in `steward-tools`.

pub mod agent;
pub mod app;
pub mod approval_status;
pub mod approvals;
pub mod audit;
pub mod canonical;
pub mod cli;
pub mod config;
pub mod config_check;
pub mod dq;
pub mod mcp;
pub mod pipeline;
pub mod policy;
pub mod principal;
pub mod quantile;
pub mod rag;
pub mod storage;
