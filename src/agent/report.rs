//! The diagnosis report: one stable JSON shape for `--json` and MCP, rendered as Markdown for
//! people. Numbers about the run (cost, tokens, steps, approvals) come from Steward, never from
//! the model.

use schemars::JsonSchema;
use serde::Serialize;

use super::claude::Usage;

/// Tokens a run used, summed over its model turns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, JsonSchema)]
pub struct TokenUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

impl From<Usage> for TokenUsage {
    fn from(u: Usage) -> Self {
        Self {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
        }
    }
}

/// What one tool step contributed.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct EvidenceItem {
    pub step: i32,
    pub tool: String,
    pub arguments: serde_json::Value,
    /// allow, require_approval, deny or error.
    pub decision: String,
    pub is_error: bool,
    /// The start of the (redacted) output.
    pub excerpt: String,
}

/// An approval the run asked for.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct ApprovalItem {
    pub approval_id: String,
    pub tool: String,
    pub state: String,
}

/// The report, whichever path produced it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Report {
    pub run_id: String,
    pub table: String,
    pub description: String,
    /// running, waiting_approval, completed, budget_exhausted or failed.
    pub status: String,
    /// "claude" or "runbook".
    pub path: String,
    /// Why this path (fallback model used, no API key, model unavailable, budget hit...).
    pub path_note: Option<String>,
    pub model: Option<String>,
    /// The report body (Markdown): the model's, or the runbook's.
    pub body: String,
    pub evidence: Vec<EvidenceItem>,
    pub approvals: Vec<ApprovalItem>,
    pub steps: i32,
    pub usage: TokenUsage,
    pub cost_usd: f64,
}

impl Report {
    /// The report as people read it.
    pub fn markdown(&self) -> String {
        let mut out = format!("# Diagnosis of {}\n\n", self.table);
        if self.path == "runbook" {
            out.push_str("> Produced without a language model (deterministic runbook).");
            if let Some(note) = &self.path_note {
                out.push_str(&format!(" Reason: {note}."));
            }
            out.push_str("\n\n");
        } else if let Some(note) = &self.path_note {
            out.push_str(&format!("> {note}\n\n"));
        }
        if self.status != "completed" {
            out.push_str(&format!(
                "> Run {} ended as **{}**: this report is partial.\n\n",
                self.run_id, self.status
            ));
        }
        out.push_str(&format!("Reported anomaly: {}\n\n", self.description));
        out.push_str(self.body.trim());
        out.push_str("\n\n### Approvals requested\n");
        if self.approvals.is_empty() {
            out.push_str("None.\n");
        }
        for a in &self.approvals {
            out.push_str(&format!("- {} ({}) — {}\n", a.approval_id, a.tool, a.state));
        }
        out.push_str(&format!(
            "\n### Cost\n{} step(s); {} input + {} output tokens ({} cache write, {} cache \
             read); ${:.4}{}.\nRun id: {}\n",
            self.steps,
            self.usage.input_tokens,
            self.usage.output_tokens,
            self.usage.cache_creation_input_tokens,
            self.usage.cache_read_input_tokens,
            self.cost_usd,
            self.model
                .as_deref()
                .map(|m| format!(" on {m}"))
                .unwrap_or_default(),
            self.run_id
        ));
        out
    }
}
