//! Wiring: turns a resolved [`Config`] into running parts — storage (migrated), the warehouse
//! backend and the tool registry shared by every channel.

use std::sync::Arc;

use sqlx::PgPool;
use steward_tools::warehouse::postgres::PgWarehouse;
use steward_tools::{Warehouse, warehouse_tools};

use crate::config::{Config, DatabaseSettings, WarehouseKind};
use crate::registry::ToolRegistry;
use crate::storage::{self, STORAGE_SCHEMA, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(
        "{what} is not configured: set {var} to a Postgres URL (for the local services: \
         eval \"$(scripts/dev-services env)\")"
    )]
    NotConfigured { what: &'static str, var: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

pub struct App {
    pub config: Config,
    pub storage: PgPool,
    pub registry: Arc<ToolRegistry>,
}

impl App {
    /// Connects to storage (applying migrations) and builds the registry.
    pub async fn start(config: Config) -> Result<Self, AppError> {
        let options = required(&config.storage, "Steward's storage database")?;
        let storage = storage::open(options, &config.storage.display_target()).await?;
        let warehouse = build_warehouse(&config)?;
        let tools = warehouse_tools(warehouse, config.warehouse.limits);
        let registry = Arc::new(ToolRegistry::new(tools, storage.clone()));
        Ok(Self {
            config,
            storage,
            registry,
        })
    }
}

/// The configured warehouse backend (connections are made on first use).
pub fn build_warehouse(config: &Config) -> Result<Arc<dyn Warehouse>, AppError> {
    let options = required(&config.warehouse.database, "the warehouse")?;
    match config.warehouse.kind {
        WarehouseKind::Postgres => Ok(Arc::new(PgWarehouse::new(
            storage::lazy_pool(options, 8),
            vec![STORAGE_SCHEMA.to_string()],
        ))),
    }
}

fn required(
    settings: &DatabaseSettings,
    what: &'static str,
) -> Result<sqlx::postgres::PgConnectOptions, AppError> {
    settings
        .connect_options()
        .ok_or_else(|| AppError::NotConfigured {
            what,
            var: settings.url_env.clone(),
        })
}
