//! `retrieve`: hybrid search over the indexed runbooks and docs of one tenant; each hit has its
//! source, heading path, text and its rank and score per signal (vector, full text, fused).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use super::search::{Filters, Mode, Retriever, SearchResult};
use super::service::Rag;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// What to look for, in Spanish or English.
    pub query: String,
    /// Whose documents (default: the server's default tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// How many chunks to return (default 5, at most 50).
    #[serde(default)]
    pub k: Option<usize>,
    /// hybrid (default with an embedder), vector or bm25 (full text only; the default without
    /// an embedder).
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub filters: Filters,
}

pub struct Retrieve {
    rag: Rag,
}

impl Retrieve {
    pub fn new(rag: Rag) -> Self {
        Self { rag }
    }
}

/// The tenant a call searches: the one asked for, else the configured default.
pub fn tenant_of(rag: &Rag, tenant: &Option<String>) -> String {
    tenant
        .clone()
        .unwrap_or_else(|| rag.settings.default_tenant.clone())
}

/// Runs a search for a tool, mapping failures to messages a person can act on.
pub async fn search(
    rag: &Rag,
    tenant: &str,
    query: &str,
    k: usize,
    mode: Mode,
    filters: &Filters,
) -> Result<SearchResult, ToolError> {
    let retriever = match rag.retriever().await {
        Ok(retriever) => retriever,
        Err(_) if mode == Mode::Bm25 => Retriever::new(rag.store().clone(), None),
        Err(e) => {
            return Err(ToolError::Failed(format!(
                "{e} (mode \"bm25\" works without an embedder)"
            )));
        }
    };
    retriever
        .search(tenant, query, k, mode, filters)
        .await
        .map_err(|e| ToolError::Failed(e.to_string()))
}

impl TypedTool for Retrieve {
    type Params = Params;
    type Output = SearchResult;
    const NAME: &'static str = "retrieve";
    const TITLE: &'static str = "Search runbooks and docs";
    const DESCRIPTION: &'static str = "Search the team's indexed runbooks, postmortems and docs \
        (Spanish and English) with hybrid retrieval: vector similarity and full text fused by \
        Reciprocal Rank Fusion. Returns chunks with source, title, heading path and text, and \
        each signal's rank and score. Cite sources by their rank.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        Ok(serde_json::json!({ "tenant": tenant_of(&self.rag, &params.tenant) }))
    }

    async fn run(&self, _: &CallContext, params: Params) -> Result<SearchResult, ToolError> {
        let k = params.k.unwrap_or(5);
        if !(1..=50).contains(&k) {
            return Err(ToolError::InvalidParams {
                tool: Self::NAME,
                message: format!("k must be between 1 and 50, not {k}"),
            });
        }
        let tenant = tenant_of(&self.rag, &params.tenant);
        let mode = match params.mode {
            Some(mode) => mode,
            None => self.rag.default_mode().await,
        };
        search(&self.rag, &tenant, &params.query, k, mode, &params.filters).await
    }
}
