//! Who is calling: the principal every tool call is attributed to — a human (CLI operator, HTTP
//! token holder) or an agent acting on behalf of one (an MCP client's model, a diagnosis run).

use std::fmt;

use serde::Serialize;

/// Which door a call came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    McpStdio,
    McpHttp,
    Cli,
    Agent,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::McpStdio => "mcp-stdio",
            Channel::McpHttp => "mcp-http",
            Channel::Cli => "cli",
            Channel::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    Human,
    Agent,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Human => "human",
            PrincipalKind::Agent => "agent",
        }
    }
}

/// An authenticated caller and the groups policies match on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub id: String,
    pub groups: Vec<String>,
    pub kind: PrincipalKind,
    /// For agents: the human they act for (whose groups they carry).
    pub on_behalf_of: Option<String>,
}

impl Principal {
    pub fn human(id: impl Into<String>, groups: Vec<String>) -> Self {
        Self {
            id: id.into(),
            groups,
            kind: PrincipalKind::Human,
            on_behalf_of: None,
        }
    }

    /// An agent (e.g. an MCP client's model) acting for `human`.
    pub fn agent_for(agent: impl Into<String>, human: &Principal) -> Self {
        Self {
            id: agent.into(),
            groups: human.groups.clone(),
            kind: PrincipalKind::Agent,
            on_behalf_of: Some(human.id.clone()),
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.on_behalf_of {
            Some(human) => write!(f, "{} (for {human})", self.id),
            None => f.write_str(&self.id),
        }
    }
}
