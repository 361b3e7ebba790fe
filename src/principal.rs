//! Who is calling: the principal every tool call is attributed to, from an HTTP bearer token,
//! the local stdio user or the CLI operator.

use std::fmt;

/// Which door a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    McpStdio,
    McpHttp,
    Cli,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::McpStdio => "mcp-stdio",
            Channel::McpHttp => "mcp-http",
            Channel::Cli => "cli",
        }
    }
}

/// An authenticated caller and the groups policies will match on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub groups: Vec<String>,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}
