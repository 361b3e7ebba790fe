//! Test fixtures: a fresh Postgres database per test, cloned from a template seeded with the
//! demo warehouse (scripts/demo/warehouse.sql) and Steward's migrations, plus helpers to run
//! the `steward` binary.

#![allow(dead_code)]

pub mod anthropic;
pub mod trino;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use steward::config::Config;
use steward_tools::warehouse::postgres::PgWarehouse;
use steward_tools::{QueryLimits, Tool, warehouse_tools};
use tokio::sync::OnceCell;

pub const SEED_SQL: &str = include_str!("../../scripts/demo/warehouse.sql");

/// An isolated database holding the demo warehouse and Steward's schema.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub options: PgConnectOptions,
}

impl TestDb {
    pub async fn new() -> Self {
        let admin = admin_options();
        let template = template(&admin).await;
        let name = format!("steward_t_{}", rand_suffix());
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the dev Postgres");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE DATABASE {name} TEMPLATE {template}"
        )))
        .execute(&mut conn)
        .await
        .expect("clone the template database");
        let options = admin.clone().database(&name);
        let url = url_for(&name);
        TestDb { name, url, options }
    }

    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test database")
    }

    /// Environment that points Steward at this database and nothing else.
    pub fn env(&self) -> BTreeMap<String, String> {
        BTreeMap::from([("STEWARD_DATABASE_URL".to_string(), self.url.clone())])
    }

    pub fn config(&self) -> Config {
        Config::load(None, &self.env()).expect("config from env")
    }

    pub fn warehouse(&self) -> Arc<PgWarehouse> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_lazy_with(self.options.clone());
        Arc::new(PgWarehouse::new(pool, vec!["steward".into()]))
    }

    /// The warehouse tools on this database with the given limits.
    pub fn tools(&self, limits: QueryLimits) -> Vec<Arc<dyn Tool>> {
        warehouse_tools(self.warehouse(), limits)
    }

    pub fn tool(&self, name: &str, limits: QueryLimits) -> Arc<dyn Tool> {
        self.tools(limits)
            .into_iter()
            .find(|t| t.spec().name == name)
            .expect("tool exists")
    }

    /// Everything a statement could have changed in the warehouse: every user table's name, row
    /// count and an md5 over its rows, plus the list of schemas and sequences' values. Steward's
    /// own schema (approvals, audit ledger) is left out: recording a refusal is not a change.
    pub async fn fingerprint(&self) -> Vec<(String, i64, String)> {
        let mut conn = PgConnection::connect_with(&self.options)
            .await
            .expect("connect");
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_schema::text, table_name::text FROM information_schema.tables
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema', 'steward')
             ORDER BY 1, 2",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list tables");
        let mut out = Vec::new();
        for (schema, table) in tables {
            let (count, digest): (i64, Option<String>) = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) FROM \"{schema}\".\"{table}\" t"
            )))
            .fetch_one(&mut conn)
            .await
            .expect("fingerprint table");
            out.push((
                format!("{schema}.{table}"),
                count,
                digest.unwrap_or_default(),
            ));
        }
        let schemas: Vec<String> =
            sqlx::query_scalar("SELECT nspname::text FROM pg_namespace ORDER BY 1")
                .fetch_all(&mut conn)
                .await
                .expect("schemas");
        out.push((schemas.join(","), 0, String::new()));
        let sequences: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences ORDER BY 1",
        )
        .fetch_all(&mut conn)
        .await
        .expect("sequences");
        for (name, value) in sequences {
            out.push((name, value.unwrap_or(0), "sequence".into()));
        }
        out
    }
}

pub fn admin_url() -> String {
    std::env::var("STEWARD_DATABASE_URL").expect(
        "STEWARD_DATABASE_URL must point at the dev Postgres: run `make test`, or \
         `scripts/dev-services start && eval \"$(scripts/dev-services env)\"`",
    )
}

fn admin_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&admin_url()).expect("STEWARD_DATABASE_URL is a Postgres URL")
}

fn url_for(database: &str) -> String {
    let admin = admin_url();
    let base = admin
        .rsplit_once('/')
        .map(|(base, _)| base)
        .unwrap_or(&admin);
    format!("{base}/{database}")
}

fn rand_suffix() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// The seeded template, created once per seed version (name carries a hash of the seed and
/// the migrations) under an advisory lock so parallel test processes agree.
async fn template(admin: &PgConnectOptions) -> String {
    TEMPLATE
        .get_or_init(|| async {
            let mut hasher = Sha256::new();
            hasher.update(SEED_SQL);
            hasher.update(steward::storage::MIGRATIONS_TABLE);
            for m in steward::storage::migrations().iter() {
                hasher.update(m.checksum.as_ref());
            }
            let name = format!("steward_tpl_{}", &hex::encode(hasher.finalize())[..12]);
            let mut conn = PgConnection::connect_with(admin).await.expect("connect");
            sqlx::query("SELECT pg_advisory_lock(7215)")
                .execute(&mut conn)
                .await
                .expect("lock");
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .expect("check template");
            // Databases left by earlier runs (a failed test never reaches its cleanup).
            let stale: Vec<String> = sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE datname LIKE 'steward\\_t\\_%'",
            )
            .fetch_all(&mut conn)
            .await
            .expect("list stale test databases");
            for db in stale {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .expect("drop stale test database");
            }
            if !exists {
                let building = format!("{name}_building");
                for statement in [
                    format!("DROP DATABASE IF EXISTS {building}"),
                    format!("CREATE DATABASE {building}"),
                ] {
                    sqlx::raw_sql(AssertSqlSafe(statement))
                        .execute(&mut conn)
                        .await
                        .expect("create template");
                }
                let options = admin.clone().database(&building);
                let mut tpl = PgConnection::connect_with(&options).await.expect("connect");
                // psql meta-commands (\set) are not SQL.
                let seed: String = SEED_SQL
                    .lines()
                    .filter(|l| !l.trim_start().starts_with('\\'))
                    .collect::<Vec<_>>()
                    .join("\n");
                sqlx::raw_sql(AssertSqlSafe(seed))
                    .execute(&mut tpl)
                    .await
                    .expect("seed the demo warehouse");
                tpl.close().await.expect("close");
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await
                    .expect("connect");
                steward::storage::migrations()
                    .run(&pool)
                    .await
                    .expect("migrate template");
                pool.close().await;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "ALTER DATABASE {building} RENAME TO {name}"
                )))
                .execute(&mut conn)
                .await
                .expect("publish template");
            }
            sqlx::query("SELECT pg_advisory_unlock(7215)")
                .execute(&mut conn)
                .await
                .expect("unlock");
            name
        })
        .await
        .clone()
}

/// A call context for tools and backends driven directly by tests.
pub fn ctx() -> steward_tools::CallContext {
    steward_tools::CallContext::new("test-user")
}

/// The shared specs and data sets: next to the checkout (`../shared`), or at /work/shared for
/// a clone elsewhere on the same machine (CI's).
pub fn shared_dir() -> std::path::PathBuf {
    let beside = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if beside.is_dir() {
        beside.to_path_buf()
    } else {
        std::path::PathBuf::from("/work/shared")
    }
}

/// Path of the `steward` binary built for these tests.
pub fn steward_bin() -> &'static str {
    env!("CARGO_BIN_EXE_steward")
}
