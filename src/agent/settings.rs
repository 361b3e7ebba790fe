//! `[agent]` settings: the model chain, the API key (by env-var name) and base URL, budgets
//! (steps, tokens, USD, wall clock), prices per model, tool-output cap and the upstream lineage
//! the runbook follows until GraphRAG lands.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::claude::{
    ApiKey, Claude, ClaudeConfig, ClaudeError, DEFAULT_API_KEY_ENV, DEFAULT_BASE_URL, Price,
};

/// `[agent]` exactly as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    pub api_key_env: Option<String>,
    pub models: Option<Vec<String>>,
    pub max_steps: Option<u32>,
    pub max_tokens: Option<u32>,
    pub max_total_tokens: Option<u64>,
    pub max_cost_usd: Option<f64>,
    pub deadline_secs: Option<u64>,
    pub request_timeout_secs: Option<u64>,
    pub max_retries: Option<u32>,
    pub retry_backoff_ms: Option<u64>,
    pub retry_after_cap_secs: Option<u64>,
    pub tool_output_max_bytes: Option<usize>,
    pub prices: Option<BTreeMap<String, RawPrice>>,
    pub lineage: Option<BTreeMap<String, Vec<String>>>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    pub input: Option<f64>,
    pub output: Option<f64>,
    pub cache_write: Option<f64>,
    pub cache_read: Option<f64>,
}

/// Resolved agent settings.
#[derive(Debug, Clone)]
pub struct AgentSettings {
    /// `None`: no key in the environment, so diagnoses use the runbook.
    pub api_key: Option<ApiKey>,
    pub api_key_env: String,
    pub base_url: String,
    /// Primary model first, then the fallback chain.
    pub models: Vec<String>,
    pub max_steps: u32,
    /// Per model response.
    pub max_tokens: u32,
    /// Input + output tokens over the whole run.
    pub max_total_tokens: u64,
    pub max_cost_usd: f64,
    pub deadline: Duration,
    pub request_timeout: Duration,
    pub max_retries: u32,
    /// Base of the exponential backoff between retries (full jitter, capped at 20 s).
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// Longest `retry-after` honoured.
    pub retry_after_cap: Duration,
    pub tool_output_max_bytes: usize,
    pub prices: BTreeMap<String, Price>,
    /// table -> upstream tables.
    pub lineage: BTreeMap<String, Vec<String>>,
}

/// Used for a model missing from the price table, so a budget is never under-counted.
pub const UNKNOWN_MODEL_PRICE: Price = Price {
    input: 15.0,
    output: 75.0,
    cache_write: 18.75,
    cache_read: 1.5,
};

impl AgentSettings {
    /// The Messages API client, or `None` without an API key.
    pub fn client(&self) -> Result<Option<Claude>, ClaudeError> {
        let Some(key) = &self.api_key else {
            return Ok(None);
        };
        let mut config = ClaudeConfig::new(key.clone(), self.models.clone());
        config.base_url = self.base_url.clone();
        config.api_key_env = self.api_key_env.clone();
        config.request_timeout = self.request_timeout;
        config.max_retries = self.max_retries;
        config.backoff_base = self.backoff_base;
        config.backoff_cap = self.backoff_cap;
        config.retry_after_cap = self.retry_after_cap;
        Claude::new(config).map(Some)
    }

    pub fn price(&self, model: &str) -> Price {
        self.prices
            .get(model)
            .copied()
            .unwrap_or(UNKNOWN_MODEL_PRICE)
    }
}

/// Resolves `[agent]`; the key is read from the environment variable it names.
pub fn resolve(
    raw: RawAgent,
    env: &BTreeMap<String, String>,
) -> Result<AgentSettings, (String, String)> {
    let api_key_env = raw
        .api_key_env
        .unwrap_or_else(|| DEFAULT_API_KEY_ENV.to_string());
    let models = raw
        .models
        .unwrap_or_else(|| vec!["claude-sonnet-4-5".into(), "claude-haiku-4-5".into()]);
    if models.is_empty() || models.iter().any(|m| m.trim().is_empty()) {
        return Err((
            "agent.models".into(),
            "must name at least one model, none empty".into(),
        ));
    }
    let mut prices = BTreeMap::from([
        (
            "claude-sonnet-4-5".to_string(),
            Price::with_standard_cache(3.0, 15.0),
        ),
        (
            "claude-haiku-4-5".to_string(),
            Price::with_standard_cache(1.0, 5.0),
        ),
        (
            "claude-opus-4-1".to_string(),
            Price::with_standard_cache(15.0, 75.0),
        ),
    ]);
    for (model, price) in raw.prices.unwrap_or_default() {
        let key = format!("agent.prices.{model}");
        let (Some(input), Some(output)) = (price.input, price.output) else {
            return Err((
                key,
                "needs `input` and `output` (USD per million tokens)".into(),
            ));
        };
        let mut resolved = Price::with_standard_cache(input, output);
        if let Some(v) = price.cache_write {
            resolved.cache_write = v;
        }
        if let Some(v) = price.cache_read {
            resolved.cache_read = v;
        }
        prices.insert(model, resolved);
    }
    let max_cost_usd = raw.max_cost_usd.unwrap_or(1.0);
    if !(max_cost_usd.is_finite() && max_cost_usd > 0.0) {
        return Err(("agent.max_cost_usd".into(), "must be above 0".into()));
    }
    let max_steps = raw.max_steps.unwrap_or(20);
    if max_steps == 0 {
        return Err(("agent.max_steps".into(), "must be at least 1".into()));
    }
    Ok(AgentSettings {
        api_key: env
            .get(&api_key_env)
            .filter(|k| !k.trim().is_empty())
            .map(|k| ApiKey::new(k.trim())),
        api_key_env,
        base_url: env
            .get("ANTHROPIC_BASE_URL")
            .filter(|u| !u.trim().is_empty())
            .cloned()
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
        models,
        max_steps,
        max_tokens: raw.max_tokens.unwrap_or(4096),
        max_total_tokens: raw.max_total_tokens.unwrap_or(400_000),
        max_cost_usd,
        deadline: Duration::from_secs(raw.deadline_secs.unwrap_or(900)),
        request_timeout: Duration::from_secs(raw.request_timeout_secs.unwrap_or(120)),
        max_retries: raw.max_retries.unwrap_or(3),
        backoff_base: Duration::from_millis(raw.retry_backoff_ms.unwrap_or(500)),
        backoff_cap: Duration::from_millis(raw.retry_backoff_ms.map_or(20_000, |b| b * 40)),
        retry_after_cap: Duration::from_secs(raw.retry_after_cap_secs.unwrap_or(60)),
        tool_output_max_bytes: raw.tool_output_max_bytes.unwrap_or(16 * 1024),
        prices,
        lineage: raw.lineage.unwrap_or_default(),
    })
}
