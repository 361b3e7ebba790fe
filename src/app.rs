//! Wiring: turns a resolved [`Config`] into running parts — storage (migrated), the warehouse
//! backend, policies, approvals, the audit ledger and the pipeline every channel shares.

use std::sync::Arc;

use sqlx::PgPool;
use steward_tools::warehouse::postgres::PgWarehouse;
use steward_tools::warehouse::trino::TrinoWarehouse;
use steward_tools::{Tool, Warehouse, tool, warehouse_tools};

use crate::agent::diagnose::Diagnoser;
use crate::agent::diagnose_anomaly::{DiagnoseAnomaly, DiagnoserSlot};
use crate::agent::runs::RunStore;
use crate::approval_status::ApprovalStatus;
use crate::approvals::Approvals;
use crate::audit::AuditLedger;
use crate::config::{Config, DatabaseSettings, WarehouseKind};
use crate::dq::compare_distributions::CompareDistributions;
use crate::dq::engine::Engine;
use crate::dq::profile_column::ProfileColumn;
use crate::dq::run_checks::RunChecks;
use crate::dq::sql::Aggregates;
use crate::dq::store::DqStore;
use crate::mcp::auth::TokenVerifier;
use crate::pipeline::Pipeline;
use crate::policy::{PolicyConfig, PolicyEngine, PolicyError};
use crate::principal::Principal;
use crate::rag::answer::Answer;
use crate::rag::retrieve::Retrieve;
use crate::rag::service::Rag;
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
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("{0}")]
    Approver(String),
    #[error("{0}")]
    Warehouse(String),
    #[error("the diagnosis agent could not start: {0}")]
    Agent(String),
}

pub struct App {
    pub config: Config,
    pub storage: PgPool,
    pub pipeline: Arc<Pipeline>,
    /// The data-quality engine (`steward check --accept-schema` uses it directly).
    pub dq: Engine,
    /// The diagnosis agent (the `diagnose_anomaly` tool and `steward diagnose`).
    pub diagnoser: DiagnoserSlot,
    /// Retrieval over runbooks and docs (`steward index`, `ask`, the retrieve/answer tools).
    pub rag: Rag,
}

impl App {
    /// Loads policies (refusing to start on a broken one), connects to storage (applying
    /// migrations) and builds the pipeline.
    pub async fn start(config: Config) -> Result<Self, AppError> {
        let policy = load_policies(&config)?;
        let options = required(&config.storage, "Steward's storage database")?;
        let storage = storage::open(options, &config.storage.display_target()).await?;
        let warehouse = build_warehouse(&config)?;
        let approvals = Approvals::new(storage.clone());
        let aggregates = Aggregates::new(warehouse.clone(), config.warehouse.limits);
        let dq = Engine::new(
            aggregates.clone(),
            DqStore::new(storage.clone()),
            config.dq.severity_rules.clone(),
        );
        let mut tools: Vec<Arc<dyn Tool>> = warehouse_tools(warehouse, config.warehouse.limits);
        tools.push(tool::register(ApprovalStatus::new(approvals.clone())));
        tools.push(tool::register(RunChecks::new(
            dq.clone(),
            Arc::new(config.dq.checks.clone()),
        )));
        tools.push(tool::register(ProfileColumn::new(aggregates.clone())));
        tools.push(tool::register(CompareDistributions::new(aggregates)));
        let rag = Rag::new(config.rag.clone(), storage.clone());
        tools.push(tool::register(Retrieve::new(rag.clone())));
        // One client (one connection pool) for the answer tool and the diagnosis agent.
        let claude = config
            .agent
            .client()
            .map_err(|e| AppError::Agent(e.to_string()))?;
        tools.push(tool::register(Answer::new(rag.clone(), claude.clone())));
        let diagnoser: DiagnoserSlot = Arc::default();
        tools.push(tool::register(DiagnoseAnomaly::new(diagnoser.clone())));
        let pipeline = Arc::new(Pipeline::new(
            tools,
            policy,
            approvals,
            AuditLedger::new(storage.clone()),
            config.policy.environment.clone(),
        ));
        let agent = Diagnoser::new(
            pipeline.clone(),
            config.agent.clone(),
            claude,
            RunStore::new(storage.clone()),
            config.dq.checks.iter().map(|c| c.table.clone()).collect(),
        );
        // Set once, right after creation: cannot already hold a value.
        let _ = diagnoser.set(agent);
        Ok(Self {
            config,
            dq,
            storage,
            pipeline,
            diagnoser,
            rag,
        })
    }

    /// The local human (CLI operator, stdio user).
    pub fn operator(&self) -> Principal {
        Principal::human(
            self.config.server.stdio_principal.clone(),
            self.config.server.stdio_groups.clone(),
        )
    }

    /// A person deciding on the CLI (`--as ID`), with the groups `[people.ID]` gives them.
    /// Someone who has an HTTP token must prove it: `STEWARD_TOKEN` must hold one of theirs,
    /// so a shell user (or an agent with a shell) cannot simply claim to be them.
    pub fn approver(&self, id: &str, presented_token: Option<&str>) -> Result<Principal, AppError> {
        let theirs: Vec<_> = self
            .config
            .server
            .tokens
            .iter()
            .filter(|t| t.principal == id)
            .cloned()
            .collect();
        if !theirs.is_empty() {
            let verified = presented_token
                .map(|token| TokenVerifier::new(theirs).verify(Some(&format!("Bearer {token}"))));
            match verified {
                Some(Ok(holder)) => {
                    // The token's groups, plus any `[people.ID]` gives.
                    let mut person = self.person(id);
                    for group in holder.groups {
                        if !person.groups.contains(&group) {
                            person.groups.push(group);
                        }
                    }
                    return Ok(person);
                }
                Some(Err(_)) => {
                    return Err(AppError::Approver(format!(
                        "STEWARD_TOKEN is not one of {id}'s tokens"
                    )));
                }
                None => {
                    return Err(AppError::Approver(format!(
                        "{id} has an access token: set STEWARD_TOKEN to it to decide as {id}"
                    )));
                }
            }
        }
        Ok(self.person(id))
    }

    /// A person by id, with the groups `[people.ID]` gives them (no identity check).
    fn person(&self, id: &str) -> Principal {
        let groups = self.config.people.get(id).cloned().unwrap_or_else(|| {
            if id == self.config.server.stdio_principal {
                self.config.server.stdio_groups.clone()
            } else {
                Vec::new()
            }
        });
        Principal::human(id, groups)
    }
}

/// The configured policies: `policy.dir`, or the ones built into the binary.
pub fn load_policies(config: &Config) -> Result<PolicyEngine, PolicyError> {
    let policy_config = PolicyConfig {
        protected_schemas: config.policy.protected_schemas.clone(),
        default_approver_group: config.policy.default_approver_group.clone(),
    };
    match &config.policy.dir {
        Some(dir) => PolicyEngine::load(dir, &policy_config),
        None => PolicyEngine::builtin(&policy_config),
    }
}

/// The configured warehouse backend (connections are made on first use).
pub fn build_warehouse(config: &Config) -> Result<Arc<dyn Warehouse>, AppError> {
    match (&config.warehouse.kind, &config.warehouse.trino) {
        (WarehouseKind::Trino, Some(trino)) => Ok(Arc::new(
            TrinoWarehouse::new(trino.clone()).map_err(|e| AppError::Warehouse(e.to_string()))?,
        )),
        _ => {
            let options = required(&config.warehouse.database, "the warehouse")?;
            Ok(Arc::new(PgWarehouse::new(
                storage::lazy_pool(options, 8),
                vec![STORAGE_SCHEMA.to_string()],
            )))
        }
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
