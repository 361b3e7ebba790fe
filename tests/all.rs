//! Integration tests, one binary: real Postgres from `scripts/dev-services` (STEWARD_DATABASE_URL),
//! the real `steward` binary for CLI and transport tests. Shared fixtures live in `common`.

// Tests may unwrap: a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod suite;
