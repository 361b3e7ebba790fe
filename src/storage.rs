//! Steward's own Postgres storage: connection pools and the schema migrations embedded in the
//! binary, applied (idempotently, under sqlx's advisory lock) every time Steward starts.

use std::sync::LazyLock;
use std::time::Duration;

use sqlx::migrate::Migrator;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

/// Migrations embedded at build time, tracked in `steward._sqlx_migrations` so nothing of
/// Steward's lands in the warehouse's `public` schema.
static MIGRATOR: LazyLock<Migrator> = LazyLock::new(|| {
    let embedded = sqlx::migrate!("src/storage/migrations");
    let mut migrator = Migrator::with_migrations(embedded.iter().cloned().collect());
    migrator.create_schema(STORAGE_SCHEMA);
    migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
    migrator
});

/// The embedded migrations (tests build seeded templates with them).
pub fn migrations() -> &'static Migrator {
    &MIGRATOR
}

/// Where sqlx records applied migrations.
pub const MIGRATIONS_TABLE: &str = "steward._sqlx_migrations";

/// Schema holding Steward's own tables; hidden from warehouse listings.
pub const STORAGE_SCHEMA: &str = "steward";

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot reach Steward's storage database at {target}: {message}")]
    Connect { target: String, message: String },
    #[error("applying storage migrations failed: {0}")]
    Migrate(String),
}

/// A pool that connects on first use, so commands fail with a message only when they need it.
pub fn lazy_pool(options: PgConnectOptions, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options)
}

/// Connects and brings the schema up to date.
pub async fn open(options: PgConnectOptions, target: &str) -> Result<PgPool, StorageError> {
    // One direct connection first: a pool would hide the reason behind "timed out".
    server_version(&options)
        .await
        .map_err(|e| StorageError::Connect {
            target: target.to_string(),
            message: e.to_string(),
        })?;
    let pool = lazy_pool(options, 4);
    MIGRATOR
        .run(&pool)
        .await
        .map_err(|e| StorageError::Migrate(e.to_string()))?;
    Ok(pool)
}

/// Connects once (no pool) and returns the server's version, or the real connection error.
pub async fn server_version(options: &PgConnectOptions) -> Result<String, sqlx::Error> {
    let mut connection = PgConnection::connect_with(options).await?;
    let version = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut connection)
        .await?;
    connection.close().await?;
    Ok(version)
}
