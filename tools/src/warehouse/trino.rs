//! Trino warehouse backend (`trino-rust-client`). Every call runs as the human it is made for
//! (`X-Trino-User`), so Trino's own access control applies; results stream page by page and a
//! row cap, byte cap, deadline or caller cancel stops reading and cancels the query.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use sqlparser::ast::{ObjectName, visit_relations};
use sqlparser::dialect::{Dialect, GenericDialect};
use sqlparser::parser::Parser;
use trino_rust_client::auth::Auth;
use trino_rust_client::retry::RetryPolicy;
use trino_rust_client::{
    Client, ClientBuilder, ClientTypeSignatureParameter, Column, QueryResultData, RawTrinoTy, Row,
    TypeSignature,
};

use super::names::{TableName, close_matches, parse_table_name, quote_literal};
use super::{
    ColumnInfo, QueryLimits, QueryResult, ReadOnlyStatement, ResultColumn, TableDescription,
    TableSummary, TruncationReason, Warehouse, WarehouseError, WritePlan, WriteStatement,
};
use crate::tool::CallContext;

/// How to reach Trino and what callers may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrinoSettings {
    /// e.g. `https://trino.example.com:8443`.
    pub url: String,
    pub catalog: String,
    pub schema: String,
    /// `X-Trino-Source`.
    pub source: String,
    /// User for calls that have no human behind them (e.g. `config check`).
    pub service_user: String,
    pub auth: TrinoAuth,
    /// PEM file with an extra root certificate.
    pub ca_cert: Option<String>,
    pub session_properties: BTreeMap<String, String>,
    /// Catalogs and schemas queries may name; empty = any.
    pub allowed_catalogs: Vec<String>,
    pub allowed_schemas: Vec<String>,
    /// Retries of 502/503/504 answers.
    pub max_retries: usize,
}

/// Credentials, already read from the environment variables the config names.
#[derive(Clone, PartialEq, Eq)]
pub enum TrinoAuth {
    None,
    Basic { user: String, password: String },
    Jwt(String),
}

impl std::fmt::Debug for TrinoAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrinoAuth::None => f.write_str("None"),
            TrinoAuth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
            TrinoAuth::Jwt(_) => f.write_str("Jwt(***)"),
        }
    }
}

pub struct TrinoWarehouse {
    settings: TrinoSettings,
    host: String,
    port: u16,
    secure: bool,
    dialect: GenericDialect,
    /// One client per user: the user is fixed when a client is built.
    clients: Mutex<HashMap<String, Arc<Client>>>,
}

impl TrinoWarehouse {
    pub fn new(settings: TrinoSettings) -> Result<Self, WarehouseError> {
        let (secure, rest) = match settings.url.split_once("://") {
            Some(("https", rest)) => (true, rest),
            Some(("http", rest)) => (false, rest),
            _ => {
                return Err(WarehouseError::Unavailable(format!(
                    "Trino URL {:?} must start with http:// or https://",
                    settings.url
                )));
            }
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => (
                host.to_string(),
                port.parse::<u16>().map_err(|_| {
                    WarehouseError::Unavailable(format!(
                        "Trino URL {:?} has a bad port",
                        settings.url
                    ))
                })?,
            ),
            None => (authority.to_string(), if secure { 443 } else { 8080 }),
        };
        Ok(Self {
            settings,
            host,
            port,
            secure,
            dialect: GenericDialect {},
            clients: Mutex::new(HashMap::new()),
        })
    }

    fn client(&self, user: &str) -> Result<Arc<Client>, WarehouseError> {
        if let Ok(clients) = self.clients.lock()
            && let Some(client) = clients.get(user)
        {
            return Ok(client.clone());
        }
        let mut builder = ClientBuilder::new(user, &self.host)
            .port(self.port)
            .secure(self.secure)
            .source(&self.settings.source)
            .catalog(&self.settings.catalog)
            .schema(&self.settings.schema)
            .properties(
                self.settings
                    .session_properties
                    .clone()
                    .into_iter()
                    .collect(),
            )
            .retry_policy(RetryPolicy {
                max_retries: self.settings.max_retries,
                min_delay: Duration::from_millis(100),
                max_delay: Duration::from_secs(2),
                jitter: true,
            });
        builder = match &self.settings.auth {
            TrinoAuth::None => builder,
            TrinoAuth::Basic { user, password } => {
                builder.auth(Auth::new_basic(user, Some(password)))
            }
            TrinoAuth::Jwt(token) => builder.auth(Auth::Jwt(token.clone())),
        };
        if let Some(path) = &self.settings.ca_cert {
            let cert = trino_rust_client::ssl::Ssl::read_pem(path).map_err(|e| {
                WarehouseError::Unavailable(format!(
                    "cannot read the Trino CA certificate {path}: {e}"
                ))
            })?;
            builder = builder.ssl(trino_rust_client::ssl::Ssl {
                root_cert: Some(cert),
            });
        }
        let client = Arc::new(builder.build().map_err(|e| self.error(e, ""))?);
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(user.to_string(), client.clone());
        }
        Ok(client)
    }

    /// Refuses names outside the allowlist before anything is sent.
    fn check_allowlist(&self, sql: &str) -> Result<(), WarehouseError> {
        if self.settings.allowed_catalogs.is_empty() && self.settings.allowed_schemas.is_empty() {
            return Ok(());
        }
        let statements = Parser::parse_sql(&self.dialect, sql)
            .map_err(|e| WarehouseError::Unavailable(format!("could not parse SQL: {e}")))?;
        let mut outside = None;
        let _ = visit_relations(&statements, |name: &ObjectName| {
            let parts: Vec<String> = name
                .0
                .iter()
                .filter_map(|p| p.as_ident().map(|i| i.value.to_lowercase()))
                .collect();
            let (catalog, schema) = match parts.as_slice() {
                [catalog, schema, _] => (catalog.clone(), schema.clone()),
                [schema, _] => (self.settings.catalog.clone(), schema.clone()),
                _ => (self.settings.catalog.clone(), self.settings.schema.clone()),
            };
            outside = self.outside_allowlist(&catalog, &schema);
            match outside {
                Some(_) => ControlFlow::Break(()),
                None => ControlFlow::Continue(()),
            }
        });
        match outside {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn outside_allowlist(&self, catalog: &str, schema: &str) -> Option<WarehouseError> {
        let allowed = |list: &[String], name: &str| {
            list.is_empty() || list.iter().any(|a| a.eq_ignore_ascii_case(name))
        };
        if !allowed(&self.settings.allowed_catalogs, catalog) {
            return Some(WarehouseError::OutsideAllowlist {
                what: "catalog",
                name: catalog.to_string(),
                allowed: self.settings.allowed_catalogs.clone(),
            });
        }
        if !allowed(&self.settings.allowed_schemas, schema) {
            return Some(WarehouseError::OutsideAllowlist {
                what: "schema",
                name: schema.to_string(),
                allowed: self.settings.allowed_schemas.clone(),
            });
        }
        None
    }

    /// Streams `sql` as `user`, keeping at most `row_cap` rows and `byte_cap` bytes; dropping
    /// the stream early cancels the query on the coordinator.
    async fn fetch(
        &self,
        ctx: &CallContext,
        sql: &str,
        row_cap: usize,
        limits: &QueryLimits,
    ) -> Result<QueryResult, WarehouseError> {
        let client = self.client(&ctx.user)?;
        let work = async {
            // Paged by hand so the query id is known from the first answer: whatever stops
            // the read (cap, deadline, caller) cancels the query through the guard.
            let mut page = self
                .with_retries(|| client.get::<Row>(sql.to_string()))
                .await
                .map_err(|e| self.error(e, sql))?;
            let mut guard = CancelOnDrop {
                client: client.clone(),
                query_id: Some(page.id.clone()),
            };
            let mut columns: Option<Vec<Column>> = None;
            let mut rows = Vec::new();
            let mut bytes = 0usize;
            let mut truncation = None;
            'pages: loop {
                if let Some(error) = page.error.take() {
                    guard.query_id = None;
                    return Err(self.error(error.into(), sql));
                }
                if columns.is_none() {
                    columns = page.columns.take();
                }
                match page.data.take() {
                    Some(QueryResultData::Direct(data)) => {
                        let known = columns.as_deref().unwrap_or_default();
                        for row in data {
                            if rows.len() >= row_cap {
                                truncation = Some(TruncationReason::RowCap);
                                break 'pages;
                            }
                            let values = convert_row(row.into_json(), known)?;
                            let size = serde_json::to_string(&values).map(|s| s.len()).unwrap_or(0);
                            if bytes + size > limits.max_bytes {
                                truncation = Some(TruncationReason::ByteCap);
                                break 'pages;
                            }
                            bytes += size;
                            rows.push(values);
                        }
                    }
                    Some(QueryResultData::Spooled(_)) => {
                        return Err(WarehouseError::Unavailable(format!(
                            "Trino at {} answered with spooled segments, which Steward does not request",
                            self.settings.url
                        )));
                    }
                    None => {}
                }
                match page.next_uri.take() {
                    Some(next) => {
                        page = self
                            .with_retries(|| client.get_next::<Row>(&next))
                            .await
                            .map_err(|e| self.error(e, sql))?;
                    }
                    None => {
                        // Finished: nothing left to cancel.
                        guard.query_id = None;
                        break;
                    }
                }
            }
            let columns = columns.unwrap_or_default();
            Ok(QueryResult {
                columns: columns
                    .iter()
                    .map(|c| ResultColumn {
                        name: c.name.clone(),
                        data_type: c.ty.clone(),
                    })
                    .collect(),
                row_count: rows.len(),
                rows,
                truncated: truncation.is_some(),
                truncation,
                row_cap,
                byte_cap: limits.max_bytes,
            })
        };
        let deadline = Duration::from_millis(limits.timeout_ms);
        tokio::select! {
            result = tokio::time::timeout(deadline, work) => match result {
                Ok(result) => result,
                Err(_) => Err(WarehouseError::Timeout { limit_ms: limits.timeout_ms }),
            },
            _ = ctx.cancel.cancelled() => Err(WarehouseError::Cancelled),
        }
    }

    /// Retries 502/503/504 answers (and, for page fetches, lost connections) with backoff.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> trino_rust_client::error::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = trino_rust_client::error::Result<T>>,
    {
        use trino_rust_client::error::Error;
        let mut delay = Duration::from_millis(100);
        let mut retries = 0;
        loop {
            match attempt().await {
                Err(Error::HttpNotOk(status, _))
                    if retries < self.settings.max_retries
                        && matches!(status.as_u16(), 502..=504) =>
                {
                    retries += 1;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                other => return other,
            }
        }
    }

    async fn rows(&self, ctx: &CallContext, sql: &str) -> Result<Vec<Vec<Value>>, WarehouseError> {
        let limits = QueryLimits {
            default_rows: 10_000,
            max_rows: 10_000,
            max_bytes: 16 * 1024 * 1024,
            timeout_ms: 60_000,
        };
        Ok(self.fetch(ctx, sql, 10_000, &limits).await?.rows)
    }

    fn error(&self, error: trino_rust_client::error::Error, sql: &str) -> WarehouseError {
        use trino_rust_client::error::Error;
        match error {
            Error::Query(q) => WarehouseError::Sql {
                position: q
                    .error_location
                    .as_ref()
                    .and_then(|l| char_position(sql, l.line_number, l.column_number)),
                message: q.message,
                detail: None,
                hint: None,
                code: Some(q.error_name),
            },
            Error::Forbidden { message } => WarehouseError::Sql {
                message,
                position: None,
                detail: None,
                hint: None,
                code: Some("PERMISSION_DENIED".into()),
            },
            Error::HttpError(e) => WarehouseError::Unavailable(format!(
                "cannot reach Trino at {}: {e}",
                self.settings.url
            )),
            Error::HttpNotOk(status, body) => WarehouseError::Unavailable(format!(
                "Trino at {} answered {status}: {}",
                self.settings.url,
                body.chars().take(300).collect::<String>()
            )),
            Error::Decode(message) => WarehouseError::Unavailable(format!(
                "malformed response from Trino at {}: {message}",
                self.settings.url
            )),
            other => {
                WarehouseError::Unavailable(format!("Trino at {}: {other}", self.settings.url))
            }
        }
    }

    fn qualified(&self, table: &TableName) -> (String, String) {
        (
            table
                .schema
                .clone()
                .unwrap_or_else(|| self.settings.schema.clone()),
            table.name.clone(),
        )
    }
}

#[async_trait]
impl Warehouse for TrinoWarehouse {
    fn kind(&self) -> &'static str {
        "trino"
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }

    async fn ping(&self) -> Result<String, WarehouseError> {
        let ctx = CallContext::new(self.settings.service_user.clone());
        let rows = self.rows(&ctx, "SELECT version()").await?;
        Ok(format!(
            "Trino {}",
            rows.first()
                .and_then(|r| r.first())
                .and_then(Value::as_str)
                .unwrap_or("(version unknown)")
        ))
    }

    async fn list_tables(
        &self,
        ctx: &CallContext,
        schema: Option<&str>,
    ) -> Result<Vec<TableSummary>, WarehouseError> {
        if let Some(schema) = schema
            && let Some(error) = self.outside_allowlist(&self.settings.catalog, schema)
        {
            return Err(error);
        }
        let filter = match schema {
            Some(schema) => format!("AND table_schema = {}", quote_literal(schema)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT table_schema, table_name, table_type FROM {}.information_schema.tables \
             WHERE table_schema <> 'information_schema' {filter} ORDER BY 1, 2",
            self.settings.catalog
        );
        let rows = self.rows(ctx, &sql).await?;
        let tables: Vec<TableSummary> = rows
            .into_iter()
            .filter_map(|row| {
                let text = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
                let schema = text(0)?;
                if self
                    .outside_allowlist(&self.settings.catalog, &schema)
                    .is_some()
                {
                    return None;
                }
                Some(TableSummary {
                    schema,
                    name: text(1)?,
                    kind: match text(2).as_deref() {
                        Some("VIEW") => "view".into(),
                        _ => "table".into(),
                    },
                    row_estimate: None,
                    comment: None,
                })
            })
            .collect();
        if let Some(schema) = schema
            && tables.is_empty()
        {
            let schemas = self
                .rows(
                    ctx,
                    &format!(
                        "SELECT schema_name FROM {}.information_schema.schemata ORDER BY 1",
                        self.settings.catalog
                    ),
                )
                .await?;
            let available: Vec<String> = schemas
                .iter()
                .filter_map(|r| r.first().and_then(Value::as_str).map(str::to_string))
                .collect();
            if !available.iter().any(|s| s == schema) {
                return Err(WarehouseError::SchemaNotFound {
                    schema: schema.to_string(),
                    available,
                });
            }
        }
        Ok(tables)
    }

    async fn describe_table(
        &self,
        ctx: &CallContext,
        table: &str,
        sample_rows: usize,
        limits: &QueryLimits,
    ) -> Result<TableDescription, WarehouseError> {
        let parsed = parse_table_name(table, &self.dialect)?;
        let (schema, name) = self.qualified(&parsed);
        if let Some(error) = self.outside_allowlist(&self.settings.catalog, &schema) {
            return Err(error);
        }
        let catalog = &self.settings.catalog;
        let columns = self
            .rows(
                ctx,
                &format!(
                    "SELECT column_name, data_type, is_nullable, column_default \
                     FROM {catalog}.information_schema.columns \
                     WHERE table_schema = {} AND table_name = {} ORDER BY ordinal_position",
                    quote_literal(&schema),
                    quote_literal(&name)
                ),
            )
            .await?;
        if columns.is_empty() {
            let all = self.list_tables(ctx, None).await?;
            let names: Vec<String> = all
                .iter()
                .map(|t| format!("{}.{}", t.schema, t.name))
                .collect();
            return Err(WarehouseError::TableNotFound {
                table: table.to_string(),
                suggestions: close_matches(table, names.iter().map(String::as_str)),
            });
        }
        let columns = columns
            .into_iter()
            .map(|row| {
                let text = |i: usize| row.get(i).and_then(Value::as_str).map(str::to_string);
                ColumnInfo {
                    name: text(0).unwrap_or_default(),
                    data_type: text(1).unwrap_or_default(),
                    nullable: text(2).as_deref() != Some("NO"),
                    default: text(3),
                    comment: None,
                }
            })
            .collect();
        let full = format!("{catalog}.{}.{}", quote(&schema), quote(&name));
        // SHOW STATS is Trino's row estimate; connectors without statistics answer null.
        let row_estimate = match self.rows(ctx, &format!("SHOW STATS FOR {full}")).await {
            Ok(stats) => stats
                .iter()
                .find(|r| r.first().is_some_and(Value::is_null))
                .and_then(|r| r.get(4))
                .and_then(Value::as_f64)
                .map(|rows| rows.round() as i64),
            Err(_) => None,
        };
        let sample = self
            .fetch(
                ctx,
                &format!("SELECT * FROM {full} LIMIT {sample_rows}"),
                sample_rows,
                limits,
            )
            .await?;
        Ok(TableDescription {
            schema,
            name,
            kind: "table".into(),
            comment: None,
            row_estimate,
            columns,
            sample,
        })
    }

    async fn qualify(
        &self,
        _ctx: &CallContext,
        tables: &[TableName],
    ) -> Result<Vec<String>, WarehouseError> {
        // Trino resolves unqualified names against the session schema, fixed per client.
        Ok(tables
            .iter()
            .map(|t| {
                let (schema, name) = self.qualified(t);
                format!("{}.{schema}.{name}", self.settings.catalog)
            })
            .collect())
    }

    async fn plan_write(
        &self,
        _ctx: &CallContext,
        _statement: &WriteStatement,
        _qualified_tables: &[String],
    ) -> Result<WritePlan, WarehouseError> {
        Ok(WritePlan::default())
    }

    fn internal_schemas(&self) -> Vec<String> {
        vec!["information_schema".into()]
    }

    async fn execute_write(
        &self,
        ctx: &CallContext,
        statement: &WriteStatement,
        limits: &QueryLimits,
    ) -> Result<u64, WarehouseError> {
        self.check_allowlist(&statement.sql)?;
        let client = self.client(&ctx.user)?;
        let run = client.execute(statement.sql.clone());
        match tokio::time::timeout(Duration::from_millis(limits.timeout_ms), run).await {
            Ok(result) => result
                .map(|done| done.update_count.unwrap_or(0))
                .map_err(|e| self.error(e, &statement.sql)),
            Err(_) => Err(WarehouseError::Timeout {
                limit_ms: limits.timeout_ms,
            }),
        }
    }

    async fn query(
        &self,
        ctx: &CallContext,
        statement: &ReadOnlyStatement,
        row_cap: usize,
        limits: &QueryLimits,
    ) -> Result<QueryResult, WarehouseError> {
        self.check_allowlist(&statement.sql)?;
        self.fetch(ctx, &statement.sql, row_cap, limits).await
    }
}

/// Cancels a query that is still running when the reader stops early (cap, deadline, caller).
struct CancelOnDrop {
    client: Arc<Client>,
    query_id: Option<String>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(id) = self.query_id.take() {
            let client = self.client.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    if let Err(e) = client.cancel(&id).await {
                        tracing::warn!(query = %id, error = %e, "could not cancel a Trino query");
                    }
                });
            }
        }
    }
}

fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// 1-based character offset of a 1-based line and column.
fn char_position(sql: &str, line: u32, column: u32) -> Option<usize> {
    let mut offset = 0usize;
    for (index, text) in sql.split('\n').enumerate() {
        if index + 1 == line as usize {
            return Some(offset + column as usize);
        }
        offset += text.chars().count() + 1;
    }
    None
}

/// One row as JSON, each value mapped by its column's Trino type.
fn convert_row(values: Vec<Value>, columns: &[Column]) -> Result<Vec<Value>, WarehouseError> {
    values
        .into_iter()
        .zip(columns)
        .map(|(value, column)| match &column.type_signature {
            Some(signature) => convert(value, signature).map_err(|problem| {
                WarehouseError::Unavailable(format!(
                    "column {} ({}): {problem}",
                    column.name, column.ty
                ))
            }),
            None => Ok(value),
        })
        .collect()
}

/// Trino's wire values, faithfully: decimals, dates and times stay exact strings, varbinary
/// stays base64, json is parsed, rows become objects keyed by field name.
fn convert(value: Value, signature: &TypeSignature) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let argument = |i: usize| match signature.arguments.get(i) {
        Some(ClientTypeSignatureParameter::TypeSignature(sig)) => Ok(sig),
        Some(ClientTypeSignatureParameter::NamedTypeSignature(named)) => Ok(&named.type_signature),
        _ => Err(format!(
            "{} without its element type",
            signature.raw_type.to_str()
        )),
    };
    match signature.raw_type {
        RawTrinoTy::Json => match value {
            Value::String(text) => serde_json::from_str(&text)
                .map_err(|e| format!("json value that does not parse: {e}")),
            other => Ok(other),
        },
        RawTrinoTy::Array => {
            let element = argument(0)?;
            match value {
                Value::Array(items) => items
                    .into_iter()
                    .map(|item| convert(item, element))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array),
                other => Err(format!("array value that is not a JSON array: {other}")),
            }
        }
        RawTrinoTy::Map => {
            let value_type = argument(1)?;
            match value {
                Value::Object(entries) => entries
                    .into_iter()
                    .map(|(k, v)| convert(v, value_type).map(|v| (k, v)))
                    .collect::<Result<Map<_, _>, _>>()
                    .map(Value::Object),
                other => Err(format!("map value that is not a JSON object: {other}")),
            }
        }
        RawTrinoTy::Row => {
            let Value::Array(items) = value else {
                return Err(format!("row value that is not a JSON array: {value}"));
            };
            let mut object = Map::new();
            for (index, (item, field)) in items.into_iter().zip(&signature.arguments).enumerate() {
                let (name, field_type) = match field {
                    ClientTypeSignatureParameter::NamedTypeSignature(named) => (
                        named
                            .field_name
                            .as_ref()
                            .map(|f| f.name.clone())
                            .unwrap_or_else(|| format!("field{}", index + 1)),
                        &named.type_signature,
                    ),
                    ClientTypeSignatureParameter::TypeSignature(sig) => {
                        (format!("field{}", index + 1), sig)
                    }
                    ClientTypeSignatureParameter::LongLiteral(_) => {
                        return Err("row field without a type".into());
                    }
                };
                object.insert(name, convert(item, field_type)?);
            }
            Ok(Value::Object(object))
        }
        // Scalars arrive in Trino's own exact representation.
        _ => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn signature(value: Value) -> TypeSignature {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn nested_values_follow_their_type_signature() {
        let row = signature(json!({"rawType": "row", "arguments": [
            {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": "id"}, "typeSignature": {"rawType": "bigint", "arguments": []}}},
            {"kind": "NAMED_TYPE", "value": {"fieldName": {"name": "tags"}, "typeSignature": {"rawType": "array", "arguments": [
                {"kind": "TYPE", "value": {"rawType": "varchar", "arguments": [{"kind": "LONG", "value": 2147483647}]}}]}}},
        ]}));
        assert_eq!(
            convert(json!([7, ["a", null]]), &row),
            Ok(json!({"id": 7, "tags": ["a", null]}))
        );
        let map = signature(json!({"rawType": "map", "arguments": [
            {"kind": "TYPE", "value": {"rawType": "varchar", "arguments": []}},
            {"kind": "TYPE", "value": {"rawType": "json", "arguments": []}}]}));
        assert_eq!(
            convert(json!({"k": "{\"x\": 1}"}), &map),
            Ok(json!({"k": {"x": 1}}))
        );
        let decimal = signature(json!({"rawType": "decimal", "arguments": [
            {"kind": "LONG", "value": 12}, {"kind": "LONG", "value": 2}]}));
        assert_eq!(
            convert(json!("12345678901.23"), &decimal),
            Ok(json!("12345678901.23"))
        );
        assert_eq!(convert(Value::Null, &decimal), Ok(Value::Null));
    }

    #[test]
    fn error_positions_become_character_offsets() {
        assert_eq!(char_position("SELECT\n  nope", 2, 3), Some(10));
        assert_eq!(char_position("SELECT x", 1, 8), Some(8));
        assert_eq!(char_position("SELECT x", 3, 1), None);
    }
}
