//! `steward config check`: pings every configured backend and reports one line each —
//! ok, unreachable (with the reason) or not configured.

use std::time::{Duration, Instant};

use crate::app::{AppError, build_warehouse};
use crate::config::{Config, DatabaseSettings};
use crate::storage::server_version;

const PING_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok(String),
    Unreachable(String),
    NotConfigured(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub backend: &'static str,
    pub status: Status,
}

impl Check {
    pub fn line(&self) -> String {
        let (word, detail) = match &self.status {
            Status::Ok(d) => ("ok", d),
            Status::Unreachable(d) => ("unreachable", d),
            Status::NotConfigured(d) => ("not configured", d),
        };
        format!("{:<10} {:<15} {}", self.backend, word, detail)
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self.status, Status::Unreachable(_))
    }
}

pub async fn run(config: &Config) -> Vec<Check> {
    vec![
        Check {
            backend: "storage",
            status: ping_storage(&config.storage).await,
        },
        Check {
            backend: "warehouse",
            status: ping_warehouse(config).await,
        },
    ]
}

async fn ping_storage(settings: &DatabaseSettings) -> Status {
    let Some(options) = settings.connect_options() else {
        return Status::NotConfigured(format!("set {}", settings.url_env));
    };
    let target = settings.display_target();
    let started = Instant::now();
    let version = tokio::time::timeout(PING_TIMEOUT, server_version(&options)).await;
    match version {
        Ok(Ok(version)) => Status::Ok(format!(
            "postgres {version} at {target} ({} ms)",
            started.elapsed().as_millis()
        )),
        Ok(Err(e)) => Status::Unreachable(format!("{target}: {e}")),
        Err(_) => Status::Unreachable(format!("{target}: no answer within {PING_TIMEOUT:?}")),
    }
}

async fn ping_warehouse(config: &Config) -> Status {
    let warehouse = match build_warehouse(config) {
        Ok(w) => w,
        Err(AppError::NotConfigured { var, .. }) => {
            return Status::NotConfigured(format!("set {var}"));
        }
        Err(e) => return Status::Unreachable(e.to_string()),
    };
    let target = config.warehouse.display_target();
    let started = Instant::now();
    match tokio::time::timeout(PING_TIMEOUT, warehouse.ping()).await {
        Ok(Ok(version)) => Status::Ok(format!(
            "{} at {target} ({} ms): {}",
            warehouse.kind(),
            started.elapsed().as_millis(),
            version.split(" on ").next().unwrap_or(&version)
        )),
        Ok(Err(e)) => Status::Unreachable(format!("{target}: {e}")),
        Err(_) => Status::Unreachable(format!("{target}: no answer within {PING_TIMEOUT:?}")),
    }
}
