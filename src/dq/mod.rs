//! Data quality: checks declared in config (volume, freshness, null rate, uniqueness, schema,
//! distribution drift) computed as warehouse aggregates, findings persisted with dedupe, the
//! statistics behind them (PSI/KL, robust volume detector) and the NAB benchmark scorer.

pub mod checks;
pub mod compare_distributions;
pub mod distribution;
pub mod divergence;
pub mod engine;
pub mod nab;
pub mod profile_column;
pub mod report;
pub mod run_checks;
pub mod sql;
pub mod store;
pub mod time;
pub mod volume;
