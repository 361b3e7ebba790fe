//! Steward's runtime: configuration, storage, the tool registry every channel shares, and the
//! MCP server (stdio and streamable HTTP). Tools themselves live in `steward-tools`.

pub mod app;
pub mod cli;
pub mod config;
pub mod config_check;
pub mod mcp;
pub mod principal;
pub mod registry;
pub mod storage;
