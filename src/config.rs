//! Configuration in two stages: a raw document (steward.toml overlaid with `STEWARD_SECTION__KEY`
//! environment overrides, unknown keys rejected by path) resolved into typed settings with
//! defaults. Secrets are only ever named by environment variable and wrapped so they never print.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;
use steward_tools::QueryLimits;
use steward_tools::warehouse::trino::{TrinoAuth, TrinoSettings};

use crate::agent::settings::{AgentSettings, RawAgent};
use crate::dq::checks::{
    Check, RawCheck, RawSeverityRule, SeverityRule, resolve_checks, resolve_severity_rules,
};
use crate::rag::settings::{RagSettings, RawRag};

/// Environment variable holding the storage (and default warehouse) Postgres URL.
pub const DEFAULT_DATABASE_URL_ENV: &str = "STEWARD_DATABASE_URL";
/// Prefix of the ids MCP client agents act under (`mcp:claude-code`).
pub const AGENT_PREFIX: &str = "mcp:";
/// Largest row cap a configuration may allow per call.
pub const HARD_MAX_ROWS: usize = 50_000;
/// Largest byte cap a configuration may allow per call.
pub const HARD_MAX_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    #[error(
        "{var} is not a valid Postgres URL (the value is not shown because it may hold a password)"
    )]
    BadDatabaseUrl { var: String },
    #[error("{key}: {message}")]
    Value { key: String, message: String },
}

/// A secret value read from the environment; Debug and Display never show it.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

// ---------- raw stage: exactly what the file and environment say ----------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    storage: Option<RawStorage>,
    warehouse: Option<RawWarehouse>,
    server: Option<RawServer>,
    policy: Option<RawPolicy>,
    people: Option<BTreeMap<String, RawPerson>>,
    trino: Option<RawTrino>,
    checks: Option<Vec<RawCheck>>,
    dq: Option<RawDq>,
    agent: Option<RawAgent>,
    rag: Option<RawRag>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDq {
    /// A TOML file of `[[checks]]` entries, relative to the config file.
    checks_file: Option<PathBuf>,
    severity: Option<Vec<RawSeverityRule>>,
}

/// The `[[checks]]` entries of a `dq.checks_file`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecksFile {
    checks: Vec<RawCheck>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrino {
    url: Option<String>,
    catalog: Option<String>,
    schema: Option<String>,
    source: Option<String>,
    user: Option<String>,
    auth: Option<String>,
    basic_user: Option<String>,
    password_env: Option<String>,
    token_env: Option<String>,
    ca_cert: Option<String>,
    session_properties: Option<BTreeMap<String, String>>,
    allowed_catalogs: Option<Vec<String>>,
    allowed_schemas: Option<Vec<String>>,
    max_retries: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    dir: Option<PathBuf>,
    environment: Option<String>,
    protected_schemas: Option<Vec<String>>,
    default_approver_group: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    groups: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    database_url_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWarehouse {
    kind: Option<WarehouseKind>,
    database_url_env: Option<String>,
    default_rows: Option<usize>,
    max_rows: Option<usize>,
    max_bytes: Option<usize>,
    statement_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    allowed_hosts: Option<Vec<String>>,
    allowed_origins: Option<Vec<String>>,
    stdio_principal: Option<String>,
    stdio_groups: Option<Vec<String>>,
    tokens: Option<Vec<RawToken>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawToken {
    principal: String,
    #[serde(default)]
    groups: Vec<String>,
    sha256: String,
}

/// Warehouse backends Steward can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WarehouseKind {
    Postgres,
    Trino,
}

// ---------- resolved stage: what the program uses ----------

/// A Postgres connection named by the environment variable that holds its URL.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url_env: String,
    /// None when the variable is unset: the backend is "not configured".
    pub url: Option<Secret>,
}

impl DatabaseSettings {
    /// Connection options, checked at resolve time so this cannot fail later.
    pub fn connect_options(&self) -> Option<PgConnectOptions> {
        self.url
            .as_ref()
            .and_then(|url| PgConnectOptions::from_str(url.expose()).ok())
    }

    /// host:port/database, for messages (never user or password).
    pub fn display_target(&self) -> String {
        match self.connect_options() {
            Some(o) => format!(
                "{}:{}/{}",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("postgres")
            ),
            None => "-".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WarehouseSettings {
    pub kind: WarehouseKind,
    pub database: DatabaseSettings,
    pub limits: QueryLimits,
    /// Set when `kind` is Trino.
    pub trino: Option<TrinoSettings>,
}

impl WarehouseSettings {
    /// Where the warehouse is, for messages (never credentials).
    pub fn display_target(&self) -> String {
        match &self.trino {
            Some(trino) => format!("{}/{}/{}", trino.url, trino.catalog, trino.schema),
            None => self.database.display_target(),
        }
    }
}

/// One HTTP bearer token, stored as the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub principal: String,
    pub groups: Vec<String>,
    pub sha256: [u8; 32],
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Host header values accepted over HTTP (DNS-rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted over HTTP; a request carrying any other Origin gets 403.
    pub allowed_origins: Vec<String>,
    pub stdio_principal: String,
    pub stdio_groups: Vec<String>,
    pub tokens: Vec<TokenSettings>,
}

/// How tool calls are decided.
#[derive(Debug, Clone)]
pub struct PolicySettings {
    /// Folder of *.rego files; None = the policies built into the binary.
    pub dir: Option<PathBuf>,
    /// Passed to policies as `input.environment` (e.g. dev, prod).
    pub environment: String,
    pub protected_schemas: Vec<String>,
    pub default_approver_group: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// Where the settings came from, for `config show`.
    pub source: String,
    pub storage: DatabaseSettings,
    pub warehouse: WarehouseSettings,
    pub server: ServerSettings,
    pub policy: PolicySettings,
    /// People who approve from the CLI (`--as ID`), with their groups.
    pub people: BTreeMap<String, Vec<String>>,
    pub dq: DqSettings,
    pub agent: AgentSettings,
    pub rag: RagSettings,
}

/// Data-quality checks and the rules giving their findings a severity.
#[derive(Debug, Clone, Default)]
pub struct DqSettings {
    pub checks: Vec<Check>,
    pub severity_rules: Vec<SeverityRule>,
}

impl Config {
    /// Loads `path` (if any) overlaid with `STEWARD_*__*` variables from `env`.
    pub fn load(path: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let (mut document, source) = match path {
            Some(path) => (read_toml(path)?, path.display().to_string()),
            None => (
                toml::Table::new(),
                "environment only (no config file)".to_string(),
            ),
        };
        let overrides = apply_env_overrides(&mut document, env)?;
        let origin = if overrides.is_empty() {
            source.clone()
        } else {
            format!("{source} + {}", overrides.join(", "))
        };
        let mut raw: RawConfig = serde_path_to_error::deserialize(toml::Value::Table(document))
            .map_err(|e| ConfigError::Invalid {
                origin: origin.clone(),
                message: describe_path_error(&e),
            })?;
        let checks_file = raw.dq.as_ref().and_then(|dq| dq.checks_file.clone());
        if let Some(file) = checks_file {
            let base = path.and_then(Path::parent).unwrap_or(Path::new("."));
            let file = base.join(file);
            let mut from_file = read_checks_file(&file)?;
            raw.checks
                .get_or_insert_with(Vec::new)
                .append(&mut from_file);
        }
        resolve(raw, env, origin)
    }

    /// Loads from the process environment; `--config` wins over `STEWARD_CONFIG`.
    pub fn from_process(path: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        let path = path
            .map(Path::to_path_buf)
            .or_else(|| env.get("STEWARD_CONFIG").map(PathBuf::from));
        Self::load(path.as_deref(), &env)
    }
}

/// A TOML file as a table; unreadable or invalid files are named.
fn read_toml(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        origin: path.display().to_string(),
        message: e.message().to_string(),
    })
}

fn read_checks_file(file: &Path) -> Result<Vec<RawCheck>, ConfigError> {
    let document = read_toml(file)?;
    let parsed: RawChecksFile = serde_path_to_error::deserialize(toml::Value::Table(document))
        .map_err(|e| ConfigError::Invalid {
            origin: file.display().to_string(),
            message: describe_path_error(&e),
        })?;
    Ok(parsed.checks)
}

fn describe_path_error(e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    let path = e.path().to_string();
    let inner = e.inner().message().to_string();
    if path == "." {
        inner
    } else {
        format!("at `{path}`: {inner}")
    }
}

/// `STEWARD_WAREHOUSE__MAX_ROWS=100` sets `warehouse.max_rows`. Values are read as TOML
/// (numbers, booleans, arrays), falling back to a plain string. Variables without `__` are
/// not overrides: they are secrets or other settings referenced by name.
fn apply_env_overrides(
    document: &mut toml::Table,
    env: &BTreeMap<String, String>,
) -> Result<Vec<String>, ConfigError> {
    let mut applied = Vec::new();
    for (name, value) in env {
        let Some(path) = name.strip_prefix("STEWARD_") else {
            continue;
        };
        // The Trino connection has short, conventional names.
        let path = match path {
            "TRINO_URL" => "TRINO__URL",
            "TRINO_CATALOG" => "TRINO__CATALOG",
            "TRINO_SCHEMA" => "TRINO__SCHEMA",
            "TRINO_USER" => "TRINO__USER",
            other => other,
        };
        if !path.contains("__") {
            continue;
        }
        let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid {
                origin: name.clone(),
                message: "empty key segment".into(),
            });
        }
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.clone()));
        let mut table = &mut *document;
        for key in &keys[..keys.len() - 1] {
            let entry = table
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            table = entry.as_table_mut().ok_or_else(|| ConfigError::Invalid {
                origin: name.clone(),
                message: format!("`{key}` is not a section"),
            })?;
        }
        if let Some(last) = keys.last() {
            table.insert(last.clone(), parsed);
        }
        applied.push(name.clone());
    }
    Ok(applied)
}

fn resolve(
    raw: RawConfig,
    env: &BTreeMap<String, String>,
    source: String,
) -> Result<Config, ConfigError> {
    let storage_raw = raw.storage.unwrap_or_default();
    let storage = database(
        storage_raw
            .database_url_env
            .unwrap_or_else(|| DEFAULT_DATABASE_URL_ENV.into()),
        env,
    )?;
    let wh = raw.warehouse.unwrap_or_default();
    let warehouse_url_env = wh
        .database_url_env
        .unwrap_or_else(|| storage.url_env.clone());
    let defaults = QueryLimits::default();
    let max_rows = wh.max_rows.unwrap_or(defaults.max_rows);
    let limits = QueryLimits {
        default_rows: wh
            .default_rows
            .unwrap_or(defaults.default_rows.min(max_rows)),
        max_rows,
        max_bytes: wh.max_bytes.unwrap_or(defaults.max_bytes),
        timeout_ms: wh.statement_timeout_ms.unwrap_or(defaults.timeout_ms),
    };
    check_range("warehouse.max_rows", limits.max_rows, 1, HARD_MAX_ROWS)?;
    check_range(
        "warehouse.default_rows",
        limits.default_rows,
        1,
        limits.max_rows,
    )?;
    check_range(
        "warehouse.max_bytes",
        limits.max_bytes,
        1024,
        HARD_MAX_BYTES,
    )?;
    if limits.timeout_ms == 0 {
        return Err(ConfigError::Value {
            key: "warehouse.statement_timeout_ms".into(),
            message: "must be above 0 (0 would disable the timeout)".into(),
        });
    }
    let trino_raw = raw.trino.unwrap_or_default();
    // Naming a Trino URL selects Trino unless the kind is set explicitly.
    let kind = wh.kind.unwrap_or(if trino_raw.url.is_some() {
        WarehouseKind::Trino
    } else {
        WarehouseKind::Postgres
    });
    let trino = match kind {
        WarehouseKind::Trino => Some(trino(trino_raw, env)?),
        WarehouseKind::Postgres => None,
    };
    let warehouse = WarehouseSettings {
        kind,
        database: database(warehouse_url_env, env)?,
        limits,
        trino,
    };

    let server = raw.server.unwrap_or_default();
    let tokens = server
        .tokens
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, t)| token(i, t))
        .collect::<Result<Vec<_>, _>>()?;
    let server = ServerSettings {
        allowed_hosts: server
            .allowed_hosts
            .unwrap_or_else(|| vec!["localhost".into(), "127.0.0.1".into(), "::1".into()]),
        allowed_origins: server.allowed_origins.unwrap_or_default(),
        stdio_principal: server
            .stdio_principal
            .or_else(|| env.get("USER").cloned())
            .unwrap_or_else(|| "local-user".into()),
        stdio_groups: server.stdio_groups.unwrap_or_default(),
        tokens,
    };
    let policy = raw.policy.unwrap_or_default();
    let policy = PolicySettings {
        dir: policy.dir,
        environment: policy.environment.unwrap_or_else(|| "dev".into()),
        protected_schemas: policy
            .protected_schemas
            .unwrap_or_else(|| vec!["gold".into()]),
        default_approver_group: policy
            .default_approver_group
            .unwrap_or_else(|| "data-oncall".into()),
    };
    let people: BTreeMap<String, Vec<String>> = raw
        .people
        .unwrap_or_default()
        .into_iter()
        .map(|(id, person)| (id, person.groups.unwrap_or_default()))
        .collect();
    // Agents are named `mcp:<client>`: a human with such an id could approve as an agent's
    // own request or dodge the self-approval rule.
    let humans = server
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                format!("server.tokens[{i}].principal"),
                t.principal.as_str(),
            )
        })
        .chain(std::iter::once((
            "server.stdio_principal".to_string(),
            server.stdio_principal.as_str(),
        )))
        .chain(
            people
                .keys()
                .map(|id| (format!("people.{id}"), id.as_str())),
        );
    for (key, id) in humans {
        if id.to_ascii_lowercase().starts_with(AGENT_PREFIX) {
            return Err(ConfigError::Value {
                key,
                message: format!(
                    "{id:?}: ids starting with {AGENT_PREFIX:?} are reserved for MCP client agents"
                ),
            });
        }
    }
    let value_error = |(key, message): (String, String)| ConfigError::Value { key, message };
    let dq = DqSettings {
        checks: resolve_checks(raw.checks.unwrap_or_default()).map_err(value_error)?,
        severity_rules: resolve_severity_rules(
            raw.dq.and_then(|dq| dq.severity).unwrap_or_default(),
        )
        .map_err(value_error)?,
    };
    let agent =
        crate::agent::settings::resolve(raw.agent.unwrap_or_default(), env).map_err(value_error)?;
    let rag =
        crate::rag::settings::resolve(raw.rag.unwrap_or_default(), env).map_err(value_error)?;
    Ok(Config {
        source,
        storage,
        warehouse,
        server,
        policy,
        people,
        dq,
        agent,
        rag,
    })
}

fn database(
    url_env: String,
    env: &BTreeMap<String, String>,
) -> Result<DatabaseSettings, ConfigError> {
    let url = env.get(&url_env).filter(|v| !v.is_empty()).cloned();
    if let Some(url) = &url
        && (!(url.starts_with("postgres://") || url.starts_with("postgresql://"))
            || PgConnectOptions::from_str(url).is_err())
    {
        return Err(ConfigError::BadDatabaseUrl { var: url_env });
    }
    Ok(DatabaseSettings {
        url_env,
        url: url.map(Secret),
    })
}

fn trino(raw: RawTrino, env: &BTreeMap<String, String>) -> Result<TrinoSettings, ConfigError> {
    let url = raw.url.ok_or_else(|| ConfigError::Value {
        key: "trino.url".into(),
        message: "the Trino warehouse needs a URL (trino.url or STEWARD_TRINO_URL)".into(),
    })?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::Value {
            key: "trino.url".into(),
            message: format!("{url:?} must start with http:// or https://"),
        });
    }
    let secret = |key: &str, var: Option<String>| -> Result<String, ConfigError> {
        let var = var.ok_or_else(|| ConfigError::Value {
            key: format!("trino.{key}"),
            message: "name the environment variable that holds the secret".into(),
        })?;
        env.get(&var).cloned().ok_or_else(|| ConfigError::Value {
            key: format!("trino.{key}"),
            message: format!("{var} is not set"),
        })
    };
    let user = raw.user.unwrap_or_else(|| "steward".into());
    let auth = match raw.auth.as_deref() {
        None | Some("none") => TrinoAuth::None,
        Some("basic") => TrinoAuth::Basic {
            user: raw.basic_user.unwrap_or_else(|| user.clone()),
            password: secret("password_env", raw.password_env)?,
        },
        Some("jwt") => TrinoAuth::Jwt(secret("token_env", raw.token_env)?),
        Some(other) => {
            return Err(ConfigError::Value {
                key: "trino.auth".into(),
                message: format!("{other:?} is not one of none, basic, jwt"),
            });
        }
    };
    Ok(TrinoSettings {
        url: url.trim_end_matches('/').to_string(),
        catalog: raw.catalog.unwrap_or_else(|| "iceberg".into()),
        schema: raw.schema.unwrap_or_else(|| "default".into()),
        source: raw.source.unwrap_or_else(|| "steward".into()),
        service_user: user,
        auth,
        ca_cert: raw.ca_cert,
        session_properties: raw.session_properties.unwrap_or_default(),
        allowed_catalogs: raw.allowed_catalogs.unwrap_or_default(),
        allowed_schemas: raw.allowed_schemas.unwrap_or_default(),
        max_retries: raw.max_retries.unwrap_or(3),
    })
}

fn token(index: usize, raw: RawToken) -> Result<TokenSettings, ConfigError> {
    let key = format!("server.tokens[{index}].sha256");
    let bytes = hex::decode(raw.sha256.trim()).map_err(|_| ConfigError::Value {
        key: key.clone(),
        message: "must be 64 hex characters (the SHA-256 of the token, see `steward token new`)"
            .into(),
    })?;
    let sha256: [u8; 32] = bytes.try_into().map_err(|_| ConfigError::Value {
        key,
        message: "must be 64 hex characters (the SHA-256 of the token, see `steward token new`)"
            .into(),
    })?;
    if raw.principal.trim().is_empty() {
        return Err(ConfigError::Value {
            key: format!("server.tokens[{index}].principal"),
            message: "must not be empty".into(),
        });
    }
    Ok(TokenSettings {
        principal: raw.principal,
        groups: raw.groups,
        sha256,
    })
}

fn check_range(key: &str, value: usize, min: usize, max: usize) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::Value {
            key: key.into(),
            message: format!("{value} is outside the allowed range {min}..={max}"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn load_str(text: &str, vars: &[(&str, &str)]) -> Result<Config, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("steward.toml");
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        Config::load(Some(&path), &env(vars)).map_err(|e| {
            e.to_string()
                .replace(&path.display().to_string(), "steward.toml")
        })
    }

    #[test]
    fn environment_alone_configures_storage_and_warehouse() {
        let config = Config::load(
            None,
            &env(&[(
                "STEWARD_DATABASE_URL",
                "postgres://u:pw@127.0.0.1:5499/steward",
            )]),
        )
        .unwrap();
        assert_eq!(config.storage.display_target(), "127.0.0.1:5499/steward");
        assert_eq!(
            config.warehouse.database.display_target(),
            "127.0.0.1:5499/steward"
        );
        assert_eq!(config.warehouse.limits, QueryLimits::default());
        assert_eq!(config.source, "environment only (no config file)");
    }

    #[test]
    fn secrets_never_print() {
        let config = Config::load(
            None,
            &env(&[(
                "STEWARD_DATABASE_URL",
                "postgres://u:hunter2@127.0.0.1/steward",
            )]),
        )
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("Secret(***)"));
    }

    #[test]
    fn unknown_keys_are_named_with_their_path() {
        assert_eq!(
            load_str("[warehouse]\nmax_rowz = 5\n", &[]).unwrap_err(),
            "steward.toml: at `warehouse.max_rowz`: unknown field `max_rowz`, expected one of `kind`, \
             `database_url_env`, `default_rows`, `max_rows`, `max_bytes`, `statement_timeout_ms`"
        );
        assert_eq!(
            load_str("[wharehouse]\n", &[]).unwrap_err(),
            "steward.toml: at `wharehouse`: unknown field `wharehouse`, expected one of `storage`, `warehouse`, `server`, `policy`, `people`, `trino`, `checks`, `dq`, `agent`, `rag`"
        );
    }

    #[test]
    fn env_overrides_win_and_unknown_env_keys_are_rejected() {
        let config = load_str(
            "[warehouse]\nmax_rows = 100\n",
            &[("STEWARD_WAREHOUSE__MAX_ROWS", "200")],
        )
        .unwrap();
        assert_eq!(config.warehouse.limits.max_rows, 200);
        assert_eq!(
            load_str("", &[("STEWARD_WAREHOUSE__ROWS", "1")]).unwrap_err(),
            "steward.toml + STEWARD_WAREHOUSE__ROWS: at `warehouse.rows`: unknown field `rows`, expected \
             one of `kind`, `database_url_env`, `default_rows`, `max_rows`, `max_bytes`, \
             `statement_timeout_ms`"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        assert_eq!(
            load_str("[warehouse]\nmax_rows = 100000\n", &[]).unwrap_err(),
            "warehouse.max_rows: 100000 is outside the allowed range 1..=50000"
        );
        assert_eq!(
            load_str("[warehouse]\nkind = \"oracle\"\n", &[]).unwrap_err(),
            "steward.toml: at `warehouse.kind`: unknown variant `oracle`, expected `postgres` or `trino`"
        );
        assert_eq!(
            load_str(
                "[[server.tokens]]\nprincipal = \"a\"\nsha256 = \"xyz\"\n",
                &[]
            )
            .unwrap_err(),
            "server.tokens[0].sha256: must be 64 hex characters (the SHA-256 of the token, see \
             `steward token new`)"
        );
        assert_eq!(
            load_str("[warehouse]\nmax_rows = \"many\"\n", &[]).unwrap_err(),
            "steward.toml: at `warehouse.max_rows`: invalid type: string \"many\", expected usize"
        );
    }

    #[test]
    fn bad_database_url_is_named_but_not_echoed() {
        let err = Config::load(
            None,
            &env(&[("STEWARD_DATABASE_URL", "mysql://x:secret@h/db")]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "STEWARD_DATABASE_URL is not a valid Postgres URL (the value is not shown because it \
             may hold a password)"
        );
    }

    #[test]
    fn missing_url_means_not_configured() {
        let config = Config::load(None, &env(&[])).unwrap();
        assert!(config.storage.url.is_none());
        assert_eq!(config.storage.url_env, "STEWARD_DATABASE_URL");
    }

    #[test]
    fn a_trino_url_selects_trino_with_secrets_from_the_environment() {
        let config = Config::load(
            None,
            &env(&[
                ("STEWARD_TRINO_URL", "https://trino.example.com:8443/"),
                ("STEWARD_TRINO_CATALOG", "lake"),
                ("STEWARD_TRINO__AUTH", "basic"),
                ("STEWARD_TRINO__PASSWORD_ENV", "TRINO_PASSWORD"),
                ("TRINO_PASSWORD", "hunter2"),
            ]),
        )
        .unwrap();
        assert_eq!(config.warehouse.kind, WarehouseKind::Trino);
        let trino = config.warehouse.trino.clone().unwrap();
        assert_eq!(trino.url, "https://trino.example.com:8443");
        assert_eq!(
            (trino.catalog.as_str(), trino.schema.as_str()),
            ("lake", "default")
        );
        assert_eq!(
            trino.auth,
            TrinoAuth::Basic {
                user: "steward".into(),
                password: "hunter2".into()
            }
        );
        assert!(!format!("{config:?}").contains("hunter2"));
        assert_eq!(
            config.warehouse.display_target(),
            "https://trino.example.com:8443/lake/default"
        );
        assert_eq!(
            Config::load(
                None,
                &env(&[
                    ("STEWARD_TRINO_URL", "http://t:8080"),
                    ("STEWARD_TRINO__AUTH", "jwt"),
                    ("STEWARD_TRINO__TOKEN_ENV", "TRINO_JWT")
                ]),
            )
            .unwrap_err()
            .to_string(),
            "trino.token_env: TRINO_JWT is not set"
        );
        assert_eq!(
            Config::load(None, &env(&[("STEWARD_TRINO_URL", "trino:8080")]))
                .unwrap_err()
                .to_string(),
            "trino.url: \"trino:8080\" must start with http:// or https://"
        );
    }

    #[test]
    fn agent_ids_are_reserved() {
        let hash = "a".repeat(64);
        assert_eq!(
            load_str(
                &format!(
                    "[[server.tokens]]\nprincipal = \"mcp:claude-code\"\nsha256 = \"{hash}\"\n"
                ),
                &[]
            )
            .unwrap_err(),
            "server.tokens[0].principal: \"mcp:claude-code\": ids starting with \"mcp:\" are reserved for MCP client agents"
        );
        assert_eq!(
            load_str("[people.\"MCP:x\"]\ngroups = []\n", &[]).unwrap_err(),
            "people.MCP:x: \"MCP:x\": ids starting with \"mcp:\" are reserved for MCP client agents"
        );
    }

    #[test]
    fn tokens_resolve_to_principals() {
        let hash = "a".repeat(64);
        let config = load_str(
            &format!(
                "[[server.tokens]]\nprincipal = \"alice\"\ngroups = [\"data-oncall\"]\nsha256 = \"{hash}\"\n"
            ),
            &[],
        )
        .unwrap();
        assert_eq!(
            config.server.tokens,
            vec![TokenSettings {
                principal: "alice".into(),
                groups: vec!["data-oncall".into()],
                sha256: [0xaa; 32],
            }]
        );
    }
}
