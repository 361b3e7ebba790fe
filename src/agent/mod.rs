//! The diagnosis agent: the Anthropic Messages client, the tool-calling loop over the shared
//! pipeline with budgets and crash-safe runs, guardrails on tool output, and the deterministic
//! runbook used when no model is available.

pub mod claude;
pub mod command;
pub mod diagnose;
pub mod diagnose_anomaly;
pub mod prompts;
pub mod report;
pub mod runbook;
pub mod runs;
pub mod settings;
pub mod untrusted;
