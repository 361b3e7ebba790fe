//! Integration tests, one binary: real Postgres from `scripts/dev-services` (STEWARD_DATABASE_URL),
//! the real `steward` binary for CLI and transport tests. Shared fixtures live in `common`.

mod common;
mod suite;
