//! A protocol-faithful Trino coordinator for tests, backed by a real Postgres.
//!
//! [`TrinoTestServer::start`] binds `127.0.0.1` and speaks Trino's client REST protocol
//! (`POST /v1/statement`, `GET`/`DELETE` on `nextUri`, `DELETE /v1/query/{id}`) until it is
//! dropped. Statements run on Postgres; results come back the way a Trino coordinator sends
//! them: the same URIs, headers, `QueryResults` JSON (`columns` with `typeSignature`, `data`,
//! `stats`, `warnings`, `updateType`/`updateCount`, `error` with `errorLocation` and
//! `failureInfo`), the same value encodings and the same paging behaviour. It was checked
//! against the official Python client (`trino==0.340.0`, `tests/trino_fidelity.py`) and the
//! `trino-rust-client` crate.
//!
//! # Lifecycle of a query
//!
//! * `POST /v1/statement` (body = SQL) answers `QUEUED` with a `nextUri` under
//!   `/v1/statement/queued/{id}/{slug}/{token}`. Without `X-Trino-User` it answers
//!   [`Options::missing_user_status`] (400 by default) with a plain-text body.
//! * The next [`Options::queued_polls`] `GET`s answer `QUEUED` again; the one after starts the
//!   statement on Postgres and answers `RUNNING` with neither columns nor data, pointing at
//!   `/v1/statement/executing/{id}/{slug}/0`.
//! * A result set then comes as: one `RUNNING` page with `columns` and no `data`, pages of
//!   [`Options::page_rows`] rows (each repeating `columns`), and a final `FINISHED` page with
//!   `columns`, no `data` and no `nextUri`. While Postgres is still working a `GET` waits up to
//!   one second, then answers `RUNNING` without data.
//! * `INSERT`/`UPDATE`/`DELETE`/`MERGE`/`CREATE TABLE AS` answer like Trino: `updateType`, a
//!   `rows bigint` column, one data row `[[n]]` and `updateCount = n`. Other DDL answers
//!   `FINISHED` with `columns: []` and `updateType` (e.g. `"CREATE TABLE"`) but no count.
//! * A repeated `GET` of the last token returns the same page (Trino's idempotent retry; the
//!   Rust client's `execute` relies on it); an older token is `410 Gone`, an unknown one `404`.
//! * `DELETE` on any `nextUri` of the query, or on `/v1/query/{id}`, cancels it (`204`). A
//!   running Postgres statement is cancelled with `pg_cancel_backend` and an autocommit
//!   statement is rolled back if it had not committed yet. The next `GET` answers `FAILED`
//!   with `USER_CANCELED`.
//!
//! # SQL
//!
//! Statements pass through to Postgres with one rewrite: a leading `<catalog>.` is dropped
//! from names of three or more parts (`postgres.gold.orders` -> `gold.orders`), where
//! `<catalog>` is [`Options::catalog`]. `X-Trino-Schema` becomes the `search_path` of the
//! statement. A few statements are answered by the server itself, as Trino would:
//! `START TRANSACTION ...` (gives `X-Trino-Started-Transaction-Id`; later statements that send
//! that id in `X-Trino-Transaction-Id` run in one Postgres transaction, `READ ONLY` included),
//! `COMMIT`/`ROLLBACK` (`X-Trino-Clear-Transaction-Id`), `SET SESSION a.b = v`
//! (`X-Trino-Set-Session`), `RESET SESSION a.b` (`X-Trino-Clear-Session`), `USE [cat.]schema`
//! (`X-Trino-Set-Catalog`/`X-Trino-Set-Schema`), `SHOW CATALOGS`, `SHOW SCHEMAS [FROM cat]`,
//! `SHOW TABLES [FROM [cat.]schema]` and `SHOW COLUMNS FROM t` / `DESCRIBE t` (Trino type names).
//! Session properties (`X-Trino-Session`) are recorded, not interpreted.
//!
//! # Types
//!
//! | Postgres | Trino | JSON value |
//! |---|---|---|
//! | `int8`, `int4`, `int2` | `bigint`, `integer`, `smallint` | number |
//! | `float8`, `float4` | `double`, `real` | number; `"NaN"`, `"Infinity"`, `"-Infinity"` |
//! | `bool` | `boolean` | `true`/`false` |
//! | `text`, `varchar`, `name`, enums, unknown types | `varchar` (`varchar(n)` if bounded) | string |
//! | `bpchar(n)` | `char(n)` | string, blank-padded |
//! | `numeric(p,s)` | `decimal(p,s)`; unconstrained: `decimal(38,s)`, `s` = largest scale in the result | string, exactly `s` decimals |
//! | `date` | `date` | `"2026-11-30"` |
//! | `time(p)`, `timetz(p)` | `time(p)`, `time(p) with time zone` | `"12:34:56.789"`, `"12:34:56.789+02:00"` |
//! | `timestamp(p)` | `timestamp(p)` | `"2026-11-30 00:00:00.000000"` (`p` digits) |
//! | `timestamptz(p)` | `timestamp(p) with time zone` | `"2026-11-30 00:00:00.000000 UTC"` |
//! | `bytea` | `varbinary` | base64 string |
//! | `uuid` | `uuid` | string |
//! | `json`, `jsonb` | `json` | string holding the JSON text |
//! | `T[]` | `array(T)` | JSON array |
//!
//! Precision `p` is the Postgres typmod, 6 when there is none (as Trino's PostgreSQL connector
//! maps them); cast (`CAST(x AS timestamp(3))`) for milliseconds. Clients that do not send the
//! `PARAMETRIC_DATETIME` capability get Trino's legacy form (`timestamp`, millisecond values).
//! Unnamed columns (`?column?`) are named `_col0`, `_col1`, ... by position, as in Trino.
//!
//! Trino's `map` and `row` types have no generic Postgres equivalent, so they are produced by
//! a naming convention on result columns (the suffix is removed from the column name):
//!
//! * `... AS attrs__map` — a `json`/`jsonb` (or JSON text) object becomes
//!   `map(varchar, varchar)`: a JSON object whose non-string values are given as their JSON
//!   text (`1` -> `"1"`), JSON `null` staying `null`.
//! * `... AS point__row` — a `json`/`jsonb` object becomes `row(field type, ...)`, a JSON array
//!   in field order. Fields and their order come from the first non-null object (use
//!   `json_build_object` to choose the order: `jsonb` sorts keys by length, then bytes); each
//!   field's type comes from its first non-null value: integer -> `bigint`, other number ->
//!   `double`, string -> `varchar`, boolean -> `boolean`, object/array -> `json`, never
//!   non-null -> `varchar`. A column with no non-null object is `row(value varchar)`.
//!
//! # Errors
//!
//! A failed statement answers `FAILED` with Trino's `error` object: `message`, `errorCode`,
//! `errorName`, `errorType`, `errorLocation` (`lineNumber`/`columnNumber` in the client's SQL,
//! from Postgres' error position) and `failureInfo` (`type`, `message`, `suppressed: []`,
//! `stack: []`, `errorLocation`). SQLSTATEs map to Trino's codes: `42601` SYNTAX_ERROR (1,
//! `io.trino.sql.parser.ParsingException`), `42P01` TABLE_NOT_FOUND (46, "Table
//! 'catalog.schema.table' does not exist"), `3F000` SCHEMA_NOT_FOUND (45), `42703`
//! COLUMN_NOT_FOUND (47, "Column 'x' cannot be resolved"), `42883` FUNCTION_NOT_FOUND (6) or
//! OPERATOR_NOT_FOUND (10), cross-database names CATALOG_NOT_FOUND (44), `0A000` NOT_SUPPORTED
//! (13), `42P07`/`42P06`/`42701` TABLE/SCHEMA/COLUMN_ALREADY_EXISTS (50/49/51), `42702`
//! AMBIGUOUS_NAME (62), `42804`/`42846` TYPE_MISMATCH (58), `42501` PERMISSION_DENIED (4),
//! `22012` DIVISION_BY_ZERO (8), `22003` NUMERIC_VALUE_OUT_OF_RANGE (19), `22P02`/`22007`/`22008`
//! INVALID_CAST_ARGUMENT (9), `23xxx` CONSTRAINT_VIOLATION (16), `25006` READ_ONLY_VIOLATION
//! (23), `25P02` TRANSACTION_ALREADY_ABORTED (22), `57014` USER_CANCELED (3), all `USER_ERROR`;
//! `53xxx` GENERIC_INSUFFICIENT_RESOURCES; connection and internal failures
//! GENERIC_INTERNAL_ERROR (65536, `INTERNAL_ERROR`); anything else GENERIC_USER_ERROR (0).
//!
//! # Faults for client tests
//!
//! [`Options::fail_next`] / [`TrinoTestServer::inject_status`] make the next requests (any
//! method or path) answer a bare status such as 502/503/504 (429 adds `Retry-After: 0`);
//! [`TrinoTestServer::inject_page_status`] does the same for the next `GET`s of `nextUri` only;
//! [`Options::page_delay`] delays every `GET` of a statement page;
//! [`TrinoTestServer::inject_query_fault`] makes the next submitted query return a malformed
//! JSON body once, or an unknown type for its first column. Every request is recorded
//! ([`TrinoTestServer::log`]) and every query too ([`TrinoTestServer::queries`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use rand::Rng;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgDatabaseError, PgErrorPosition, PgPoolOptions};
use sqlx::{
    AssertSqlSafe, Column as _, Executor as _, PgPool, Postgres, Row as _, SqlSafeStr as _,
    Statement as _,
};
use tokio::sync::{oneshot, watch};

/// How long a `GET` waits for Postgres before answering a page without data.
const MAX_WAIT: Duration = Duration::from_secs(1);
/// Trino's unbounded `varchar` length (`Integer.MAX_VALUE`).
const VARCHAR_UNBOUNDED: i64 = 2_147_483_647;
/// Largest decimal precision Trino supports.
const MAX_DECIMAL_PRECISION: i64 = 38;

// ---------------------------------------------------------------------------------------------
// Public API

/// Server behaviour; [`Options::default`] suits most tests.
#[derive(Debug, Clone)]
pub struct Options {
    /// Rows per data page (at least 1). Default 2.
    pub page_rows: usize,
    /// How many `GET`s after the `POST` still answer `QUEUED`. Default 1.
    pub queued_polls: usize,
    /// Statuses for the next requests, one per request, in order (e.g. `vec![503, 502]`).
    pub fail_next: Vec<u16>,
    /// Delay before answering each `GET` of a statement page. Default none.
    pub page_delay: Option<Duration>,
    /// The catalog whose prefix is stripped from three-part names. Default `"postgres"`.
    pub catalog: String,
    /// Status for a `POST /v1/statement` without `X-Trino-User`. Default 400 (plain-text body).
    /// A real coordinator with insecure authentication answers 401 with
    /// `WWW-Authenticate: Basic realm="Trino"`; 401 here does the same.
    pub missing_user_status: u16,
    /// Port to bind on 127.0.0.1; 0 (default) picks a free one.
    pub port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            page_rows: 2,
            queued_polls: 1,
            fail_next: Vec::new(),
            page_delay: None,
            catalog: "postgres".to_string(),
            missing_user_status: 400,
            port: 0,
        }
    }
}

/// One HTTP request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `DELETE`, `HEAD`.
    pub method: String,
    /// Path without the query string, e.g. `/v1/statement`.
    pub path: String,
    pub user: Option<String>,
    pub source: Option<String>,
    pub catalog: Option<String>,
    pub schema: Option<String>,
    /// Every other `x-trino-*` header (lower-case name -> value).
    pub headers: BTreeMap<String, String>,
    /// `X-Trino-Session`, decoded (`name=value` pairs).
    pub session: BTreeMap<String, String>,
    /// The body (the SQL text of a `POST`).
    pub body: String,
    /// The status the server answered.
    pub status: u16,
}

/// A fault applied to the next submitted query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryFault {
    /// The first executing page of the query answers 200 with a truncated JSON body, once;
    /// fetching the same `nextUri` again returns the real page.
    MalformedJson,
    /// The first column of the result is declared with this unknown raw type (both `type` and
    /// `typeSignature.rawType`); its values are sent unchanged.
    UnknownColumnType(String),
}

/// Where a query stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryState {
    Queued,
    Running,
    Finished,
    Failed,
}

/// One submitted query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRecord {
    pub id: String,
    /// The SQL as received.
    pub sql: String,
    /// The SQL sent to Postgres (after the catalog rewrite).
    pub translated_sql: String,
    pub user: String,
    pub session: BTreeMap<String, String>,
    pub transaction_id: Option<String>,
    pub state: QueryState,
    /// A `DELETE` cancelled it.
    pub canceled: bool,
    /// `errorName` if it failed.
    pub error_name: Option<String>,
}

/// The running server; it stops when dropped.
pub struct TrinoTestServer {
    url: String,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TrinoTestServer {
    /// Binds 127.0.0.1 (port [`Options::port`]) and serves until dropped. Statements run on a
    /// pool of the server's own with `pg`'s connect options (session `TimeZone` UTC, ISO dates,
    /// no statement cache), so the caller's pool is left alone.
    pub async fn start(pg: PgPool, options: Options) -> TrinoTestServer {
        let connect = (*pg.connect_options())
            .clone()
            .options([
                ("TimeZone", "UTC"),
                ("DateStyle", "ISO, YMD"),
                ("IntervalStyle", "postgres"),
                ("extra_float_digits", "1"),
                ("bytea_output", "hex"),
            ])
            .statement_cache_capacity(0);
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(connect);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", options.port))
            .await
            .expect("bind the Trino test server on 127.0.0.1");
        let port = listener.local_addr().expect("local address").port();
        let url = format!("http://127.0.0.1:{port}");
        let shared = Arc::new(Shared {
            base_url: url.clone(),
            faults: Mutex::new(options.fail_next.iter().copied().collect()),
            page_faults: Mutex::new(VecDeque::new()),
            options,
            pool,
            log: Mutex::new(Vec::new()),
            query_faults: Mutex::new(VecDeque::new()),
            queries: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            transactions: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            node: random_alnum(5),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        TrinoTestServer {
            url,
            shared,
            shutdown: Some(tx),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }

    /// Every request so far, oldest first.
    pub fn log(&self) -> Vec<Request> {
        lock(&self.shared.log).clone()
    }

    /// Every query so far, in submission order.
    pub fn queries(&self) -> Vec<QueryRecord> {
        let order = lock(&self.shared.order).clone();
        let queries = lock(&self.shared.queries);
        order
            .iter()
            .filter_map(|id| queries.get(id))
            .map(|q| lock(q).record())
            .collect()
    }

    /// The next request (whatever it is) answers `code` with a plain-text body; calls queue up.
    pub fn inject_status(&self, code: u16) {
        lock(&self.shared.faults).push_back(code);
    }

    /// The next `GET` of a statement page (`nextUri`) answers `code`; calls queue up. Unlike
    /// [`inject_status`](Self::inject_status) this skips `POST`s and `DELETE`s, to test retries
    /// of page fetches.
    pub fn inject_page_status(&self, code: u16) {
        lock(&self.shared.page_faults).push_back(code);
    }

    /// The next submitted query gets `fault`; calls queue up, one fault per query.
    pub fn inject_query_fault(&self, fault: QueryFault) {
        lock(&self.shared.query_faults).push_back(fault);
    }
}

impl Drop for TrinoTestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state

struct Shared {
    options: Options,
    base_url: String,
    pool: PgPool,
    log: Mutex<Vec<Request>>,
    faults: Mutex<VecDeque<u16>>,
    page_faults: Mutex<VecDeque<u16>>,
    query_faults: Mutex<VecDeque<QueryFault>>,
    queries: Mutex<HashMap<String, Arc<Mutex<Query>>>>,
    order: Mutex<Vec<String>>,
    transactions: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Transaction>>>>,
    counter: AtomicU64,
    node: String,
}

/// A poisoned lock only means another handler panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

struct Transaction {
    conn: PoolConnection<Postgres>,
    pid: Option<i32>,
}

/// The client's session, from the `POST` headers.
#[derive(Debug, Clone, Default)]
struct SessionCtx {
    user: String,
    catalog: Option<String>,
    schema: Option<String>,
    properties: BTreeMap<String, String>,
    transaction_id: Option<String>,
    parametric_datetime: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Queued,
    Executing,
}

impl Stage {
    fn path(self) -> &'static str {
        match self {
            Stage::Queued => "queued",
            Stage::Executing => "executing",
        }
    }
}

struct Query {
    id: String,
    slug: String,
    sql: String,
    translated: Translated,
    session: SessionCtx,
    created: Instant,
    queued_left: usize,
    /// The last page served, for repeated requests of the same token.
    last: Option<((Stage, u64), Page)>,
    /// The token the client may ask for next; `None` once a final page was served.
    next: Option<(Stage, u64)>,
    canceled: bool,
    fault: Option<QueryFault>,
    malformed_pending: bool,
    exec: Option<Exec>,
    outcome: Option<Outcome>,
    columns_sent: bool,
    rows_sent: usize,
    state: QueryState,
    error_name: Option<String>,
}

/// A statement running (or finished) on Postgres.
struct Exec {
    result: watch::Receiver<Option<Outcome>>,
    cancel: Arc<AtomicBool>,
    pid: Arc<Mutex<Option<i32>>>,
}

/// A served page: status, extra headers and the JSON body.
#[derive(Clone)]
struct Page {
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Query {
    fn record(&self) -> QueryRecord {
        QueryRecord {
            id: self.id.clone(),
            sql: self.sql.clone(),
            translated_sql: self.translated.sql.clone(),
            user: self.session.user.clone(),
            session: self.session.properties.clone(),
            transaction_id: self.session.transaction_id.clone(),
            state: self.state,
            canceled: self.canceled,
            error_name: self.error_name.clone(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP

async fn handle(State(shared): State<Arc<Shared>>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let index = {
        let mut log = lock(&shared.log);
        log.push(request_entry(&parts.method, &path, &parts.headers, &bytes));
        log.len() - 1
    };
    let page_get = parts.method == Method::GET && path.starts_with("/v1/statement/");
    let fault = lock(&shared.faults).pop_front().or_else(|| {
        page_get
            .then(|| lock(&shared.page_faults).pop_front())
            .flatten()
    });
    let response = match fault {
        Some(code) => fault_response(code),
        None => route(&shared, &parts.method, &path, &parts.headers, &bytes).await,
    };
    if let Some(entry) = lock(&shared.log).get_mut(index) {
        entry.status = response.status().as_u16();
    }
    response
}

fn request_entry(method: &Method, path: &str, headers: &HeaderMap, body: &[u8]) -> Request {
    let get = |name: &str| header_str(headers, name);
    let mut others = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str().to_ascii_lowercase();
        if name.starts_with("x-trino-")
            && !matches!(
                name.as_str(),
                "x-trino-user" | "x-trino-source" | "x-trino-catalog" | "x-trino-schema"
            )
        {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            others
                .entry(name)
                .and_modify(|v: &mut String| {
                    v.push(',');
                    v.push_str(&value);
                })
                .or_insert(value);
        }
    }
    Request {
        method: method.as_str().to_string(),
        path: path.to_string(),
        user: get("x-trino-user"),
        source: get("x-trino-source"),
        catalog: get("x-trino-catalog"),
        schema: get("x-trino-schema"),
        session: parse_session(headers),
        headers: others,
        body: String::from_utf8_lossy(body).into_owned(),
        status: 0,
    }
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
}

/// `X-Trino-Session: a=1,b=x%20y` (one or more headers) -> {a: 1, b: "x y"}.
fn parse_session(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for value in headers.get_all("x-trino-session") {
        for pair in String::from_utf8_lossy(value.as_bytes()).split(',') {
            if let Some((k, v)) = pair.split_once('=') {
                let k = k.trim();
                if !k.is_empty() {
                    out.insert(percent_decode(k), percent_decode(v.trim()));
                }
            }
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    fn hex_val(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else if b == b' ' {
            out.push('+');
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn text_response(status: u16, body: &str) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn fault_response(code: u16) -> Response {
    let reason = StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Injected fault");
    let mut response = text_response(code, &format!("{code} {reason}"));
    if code == 429 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("0"));
    }
    response
}

fn json_response(page: &Page) -> Response {
    let mut response = Response::new(Body::from(page.body.clone()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in &page.headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            response.headers_mut().append(*name, v);
        }
    }
    response
}

async fn route(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["v1", "statement"]) => submit(shared, headers, body),
        ("GET", ["v1", "statement", stage, id, slug, token]) => {
            match (parse_stage(stage), token.parse::<u64>()) {
                (Some(stage), Ok(token)) => poll(shared, stage, id, slug, token).await,
                _ => text_response(404, "Not Found"),
            }
        }
        // A heartbeat (the Python client sends them while it downloads spooled segments):
        // it must not advance the query.
        ("HEAD", ["v1", "statement", _, id, slug, _]) => {
            let known = lock(&shared.queries)
                .get(*id)
                .is_some_and(|q| lock(q).slug == *slug);
            let mut response = Response::new(Body::empty());
            if !known {
                *response.status_mut() = StatusCode::NOT_FOUND;
            }
            response
        }
        ("DELETE", ["v1", "statement", stage, id, slug, token]) => {
            match (parse_stage(stage), token.parse::<u64>()) {
                (Some(stage), Ok(_)) => cancel_statement(shared, stage, id, slug),
                _ => text_response(404, "Not Found"),
            }
        }
        ("DELETE", ["v1", "query", id]) => {
            let query = lock(&shared.queries).get(*id).cloned();
            match query {
                Some(query) => {
                    cancel(shared, &query);
                    no_content()
                }
                None => text_response(404, "Query not found"),
            }
        }
        ("GET", ["v1", "query", id]) => query_info(shared, id),
        ("GET", ["v1", "info"]) => {
            let body = json!({
                "nodeVersion": {"version": "476"},
                "environment": "test",
                "coordinator": true,
                "starting": false,
                "uptime": "1.00m",
            });
            json_response(&Page {
                headers: Vec::new(),
                body: body.to_string(),
            })
        }
        ("GET", ["ui", "query.html"]) => text_response(200, "Trino test server"),
        _ => text_response(404, "Not Found"),
    }
}

fn parse_stage(s: &str) -> Option<Stage> {
    match s {
        "queued" => Some(Stage::Queued),
        "executing" => Some(Stage::Executing),
        _ => None,
    }
}

fn no_content() -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

fn query_info(shared: &Arc<Shared>, id: &str) -> Response {
    let query = lock(&shared.queries).get(id).cloned();
    let Some(query) = query else {
        return text_response(404, "Query not found");
    };
    let q = lock(&query);
    let body = json!({
        "queryId": q.id,
        "state": state_name(q.state),
        "query": q.sql,
        "self": format!("{}/v1/query/{}", shared.base_url, q.id),
        "session": {"user": q.session.user, "catalog": q.session.catalog, "schema": q.session.schema},
        "errorCode": q.error_name,
    });
    json_response(&Page {
        headers: Vec::new(),
        body: body.to_string(),
    })
}

fn state_name(state: QueryState) -> &'static str {
    match state {
        QueryState::Queued => "QUEUED",
        QueryState::Running => "RUNNING",
        QueryState::Finished => "FINISHED",
        QueryState::Failed => "FAILED",
    }
}

// ---------------------------------------------------------------------------------------------
// Query protocol

fn submit(shared: &Arc<Shared>, headers: &HeaderMap, body: &Bytes) -> Response {
    let user = header_str(headers, "x-trino-user").filter(|u| !u.is_empty());
    let Some(user) = user else {
        let status = shared.options.missing_user_status;
        if status == 401 {
            let mut response =
                text_response(401, "Basic authentication or X-Trino-User must be sent");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"Trino\""),
            );
            return response;
        }
        return text_response(status, "User must be set");
    };
    let sql = String::from_utf8_lossy(body).into_owned();
    if sql.trim().is_empty() {
        return text_response(400, "SQL statement is empty");
    }
    let capabilities = header_str(headers, "x-trino-client-capabilities").unwrap_or_default();
    let session = SessionCtx {
        user,
        catalog: header_str(headers, "x-trino-catalog").filter(|s| !s.is_empty()),
        schema: header_str(headers, "x-trino-schema").filter(|s| !s.is_empty()),
        properties: parse_session(headers),
        transaction_id: header_str(headers, "x-trino-transaction-id")
            .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("none")),
        parametric_datetime: capabilities
            .split(',')
            .any(|c| c.trim().eq_ignore_ascii_case("PARAMETRIC_DATETIME")),
    };
    let id = new_query_id(shared);
    let translated = translate(&sql, &shared.options.catalog);
    let fault = lock(&shared.query_faults).pop_front();
    let query = Query {
        id: id.clone(),
        slug: format!("y{}", random_hex(16)),
        sql,
        translated,
        session,
        created: Instant::now(),
        queued_left: shared.options.queued_polls,
        last: None,
        next: Some((Stage::Queued, 1)),
        canceled: false,
        malformed_pending: fault == Some(QueryFault::MalformedJson),
        fault,
        exec: None,
        outcome: None,
        columns_sent: false,
        rows_sent: 0,
        state: QueryState::Queued,
        error_name: None,
    };
    let page = build_page(shared, &query, PageKind::Queued, Some((Stage::Queued, 1)));
    lock(&shared.queries).insert(id.clone(), Arc::new(Mutex::new(query)));
    lock(&shared.order).push(id);
    json_response(&page)
}

/// `20261204_123456_00001_abcde`: UTC time, a per-server counter, the node id.
fn new_query_id(shared: &Shared) -> String {
    let n = shared.counter.fetch_add(1, Ordering::SeqCst);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}_{:02}{:02}{:02}_{:05}_{}",
        t / 3600,
        (t / 60) % 60,
        t % 60,
        n % 100_000,
        shared.node
    )
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::rng();
    let buf: Vec<u8> = (0..bytes).map(|_| rng.random::<u8>()).collect();
    hex::encode(buf)
}

fn random_alnum(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

async fn poll(shared: &Arc<Shared>, stage: Stage, id: &str, slug: &str, token: u64) -> Response {
    if let Some(delay) = shared.options.page_delay {
        tokio::time::sleep(delay).await;
    }
    let mut waited = false;
    loop {
        let query = lock(&shared.queries).get(id).cloned();
        let Some(query) = query else {
            return text_response(404, "Query not found");
        };
        let wait_on = {
            let mut q = lock(&query);
            if q.slug != slug {
                return text_response(404, "Query not found");
            }
            if let Some((last, page)) = &q.last
                && *last == (stage, token)
            {
                return json_response(page);
            }
            if q.next != Some((stage, token)) {
                let older = match (&q.last, stage) {
                    (Some(((Stage::Executing, _), _)), Stage::Queued) => true,
                    (Some(((last_stage, last_token), _)), _) => {
                        *last_stage == stage && *last_token > token
                    }
                    _ => false,
                };
                return if older {
                    text_response(410, "Gone")
                } else {
                    text_response(404, "Query not found")
                };
            }
            if q.canceled {
                let error = TrinoError::canceled();
                q.state = QueryState::Failed;
                q.error_name = Some(error.name.to_string());
                let page = build_page(shared, &q, PageKind::Failed(&error), None);
                return serve(&mut q, stage, token, None, page);
            }
            match stage {
                Stage::Queued => {
                    if q.queued_left > 0 {
                        q.queued_left -= 1;
                        let next = Some((Stage::Queued, token + 1));
                        let page = build_page(shared, &q, PageKind::Queued, next);
                        return serve(&mut q, stage, token, next, page);
                    }
                    start_execution(shared, &mut q);
                    q.state = QueryState::Running;
                    let next = Some((Stage::Executing, 0));
                    let page = build_page(shared, &q, PageKind::Running, next);
                    return serve(&mut q, stage, token, next, page);
                }
                Stage::Executing => {
                    if q.malformed_pending {
                        q.malformed_pending = false;
                        let page = build_page(shared, &q, PageKind::Running, q.next);
                        let cut = page.body.len() / 2;
                        let body = page.body.get(..cut).unwrap_or("{").to_string();
                        return json_response(&Page {
                            headers: Vec::new(),
                            body,
                        });
                    }
                    if q.outcome.is_none() {
                        let ready = q.exec.as_ref().and_then(|e| e.result.borrow().clone());
                        q.outcome = ready;
                    }
                    match q.outcome.clone() {
                        Some(outcome) => return executing_page(shared, &mut q, token, &outcome),
                        None if waited => {
                            let next = Some((Stage::Executing, token + 1));
                            let page = build_page(shared, &q, PageKind::Running, next);
                            return serve(&mut q, stage, token, next, page);
                        }
                        None => q.exec.as_ref().map(|e| e.result.clone()),
                    }
                }
            }
        };
        waited = true;
        if let Some(mut rx) = wait_on {
            let _ = tokio::time::timeout(MAX_WAIT, rx.wait_for(|v| v.is_some())).await;
        }
    }
}

/// Caches `page` as the answer for `(stage, token)` and moves the query to `next`.
fn serve(
    q: &mut Query,
    stage: Stage,
    token: u64,
    next: Option<(Stage, u64)>,
    page: Page,
) -> Response {
    q.next = next;
    q.last = Some(((stage, token), page.clone()));
    json_response(&page)
}

fn executing_page(shared: &Arc<Shared>, q: &mut Query, token: u64, outcome: &Outcome) -> Response {
    let stage = Stage::Executing;
    let done = match outcome {
        Outcome::Failed(error) => {
            q.state = QueryState::Failed;
            q.error_name = Some(error.name.to_string());
            let page = build_page(shared, q, PageKind::Failed(error), None);
            return serve(q, stage, token, None, page);
        }
        Outcome::Done(done) => done,
    };
    let next = Some((stage, token + 1));
    if done.update_type.is_some() && done.columns.is_empty() {
        q.state = QueryState::Finished;
        let page = build_page(shared, q, PageKind::Finished(done), None);
        return serve(q, stage, token, None, page);
    }
    if !q.columns_sent {
        q.columns_sent = true;
        let page = build_page(shared, q, PageKind::Columns(done), next);
        return serve(q, stage, token, next, page);
    }
    if q.rows_sent < done.rows.len() {
        let start = q.rows_sent;
        let end = (start + shared.options.page_rows.max(1)).min(done.rows.len());
        q.rows_sent = end;
        let page = build_page(shared, q, PageKind::Data(done, start..end), next);
        return serve(q, stage, token, next, page);
    }
    q.state = QueryState::Finished;
    let page = build_page(shared, q, PageKind::Finished(done), None);
    serve(q, stage, token, None, page)
}

fn cancel_statement(shared: &Arc<Shared>, stage: Stage, id: &str, slug: &str) -> Response {
    let query = lock(&shared.queries).get(id).cloned();
    match query {
        Some(query) => {
            if lock(&query).slug != slug {
                return text_response(404, "Query not found");
            }
            cancel(shared, &query);
            no_content()
        }
        // Trino: an unknown executing query is already gone (204); a queued one is a 404.
        None if stage == Stage::Executing => no_content(),
        None => text_response(404, "Query not found"),
    }
}

/// Marks the query canceled (unless it already ended) and stops its Postgres statement.
fn cancel(shared: &Arc<Shared>, query: &Arc<Mutex<Query>>) {
    let mut q = lock(query);
    if q.next.is_none() || q.canceled {
        return;
    }
    q.canceled = true;
    let Some(exec) = &q.exec else {
        return;
    };
    exec.cancel.store(true, Ordering::SeqCst);
    let finished = exec.result.borrow().is_some();
    let pid = *lock(&exec.pid);
    if let (false, Some(pid)) = (finished, pid) {
        let pool = shared.pool.clone();
        tokio::spawn(async move {
            let _ = sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(pid)
                .execute(&pool)
                .await;
        });
    }
}

fn start_execution(shared: &Arc<Shared>, q: &mut Query) {
    let (tx, rx) = watch::channel(None);
    let cancel = Arc::new(AtomicBool::new(false));
    let pid = Arc::new(Mutex::new(None));
    q.exec = Some(Exec {
        result: rx,
        cancel: cancel.clone(),
        pid: pid.clone(),
    });
    let shared = shared.clone();
    let sql = q.translated.clone();
    let session = q.session.clone();
    tokio::spawn(async move {
        let outcome = run_statement(&shared, &sql, &session, &cancel, &pid).await;
        let _ = tx.send(Some(outcome));
    });
}

// ---------------------------------------------------------------------------------------------
// QueryResults JSON

enum PageKind<'a> {
    Queued,
    /// Running, no columns yet.
    Running,
    /// Running: columns, no data.
    Columns(&'a Done),
    /// Running: columns and these rows.
    Data(&'a Done, std::ops::Range<usize>),
    Finished(&'a Done),
    Failed(&'a TrinoError),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueryResults<'a> {
    id: &'a str,
    info_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a [Vec<Value>]>,
    stats: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
    warnings: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    update_count: Option<u64>,
}

fn build_page(shared: &Shared, q: &Query, kind: PageKind<'_>, next: Option<(Stage, u64)>) -> Page {
    let next_uri = next.map(|(stage, token)| {
        format!(
            "{}/v1/statement/{}/{}/{}/{}",
            shared.base_url,
            stage.path(),
            q.id,
            q.slug,
            token
        )
    });
    let done = match &kind {
        PageKind::Columns(d) | PageKind::Data(d, _) | PageKind::Finished(d) => Some(*d),
        _ => None,
    };
    let columns = done.map(|d| column_json(d, q));
    let data = match &kind {
        PageKind::Data(d, range) => d.rows.get(range.clone()),
        _ => None,
    };
    let error = match &kind {
        PageKind::Failed(e) => Some(e.to_json()),
        _ => None,
    };
    let update_count = match &kind {
        PageKind::Data(d, _) | PageKind::Finished(d) => d.update_count,
        _ => None,
    };
    let results = QueryResults {
        id: &q.id,
        info_uri: format!("{}/ui/query.html?{}", shared.base_url, q.id),
        next_uri,
        columns,
        data,
        stats: stats_json(q, &kind),
        error,
        warnings: Vec::new(),
        update_type: done.and_then(|d| d.update_type.as_deref()),
        update_count,
    };
    let headers = done.map(|d| d.headers.clone()).unwrap_or_default();
    Page {
        headers,
        body: serde_json::to_string(&results).unwrap_or_else(|_| "{}".to_string()),
    }
}

fn column_json(done: &Done, q: &Query) -> Vec<Value> {
    done.columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (ty, signature) = match (&q.fault, i) {
                (Some(QueryFault::UnknownColumnType(raw)), 0) => {
                    (raw.clone(), json!({"rawType": raw, "arguments": []}))
                }
                _ => (
                    c.ty.result_name(q.session.parametric_datetime),
                    c.ty.signature(q.session.parametric_datetime),
                ),
            };
            json!({"name": c.name, "type": ty, "typeSignature": signature})
        })
        .collect()
}

fn stats_json(q: &Query, kind: &PageKind<'_>) -> Value {
    let elapsed = q.created.elapsed().as_millis() as u64;
    let (state, queued, scheduled) = match kind {
        PageKind::Queued => ("QUEUED", true, false),
        PageKind::Running | PageKind::Columns(_) | PageKind::Data(..) => ("RUNNING", false, true),
        PageKind::Finished(_) => ("FINISHED", false, true),
        PageKind::Failed(_) => ("FAILED", false, q.exec.is_some()),
    };
    let (total_rows, sent) = match kind {
        PageKind::Columns(d) => (d.rows.len(), 0),
        PageKind::Data(d, range) => (d.rows.len(), range.end),
        PageKind::Finished(d) => (d.rows.len(), d.rows.len()),
        _ => (0, 0),
    };
    let done = matches!(kind, PageKind::Finished(_));
    let total_splits: u64 = if scheduled { 1 } else { 0 };
    let completed: u64 = if done { 1 } else { 0 };
    let running = total_splits - completed;
    let processed_rows = sent as u64;
    let processed_bytes = processed_rows * 64;
    let mut stats = Map::new();
    stats.insert("state".into(), json!(state));
    stats.insert("queued".into(), json!(queued));
    stats.insert("scheduled".into(), json!(scheduled));
    if scheduled {
        let progress = if done {
            100.0
        } else if total_rows == 0 {
            0.0
        } else {
            100.0 * sent as f64 / total_rows as f64
        };
        stats.insert("progressPercentage".into(), json!(progress));
        stats.insert(
            "runningPercentage".into(),
            json!(if done { 0.0 } else { 100.0 }),
        );
    }
    stats.insert("nodes".into(), json!(if scheduled { 1 } else { 0 }));
    stats.insert("totalSplits".into(), json!(total_splits));
    stats.insert("queuedSplits".into(), json!(0));
    stats.insert("runningSplits".into(), json!(running));
    stats.insert("completedSplits".into(), json!(completed));
    stats.insert("cpuTimeMillis".into(), json!(if scheduled { 1 } else { 0 }));
    stats.insert(
        "wallTimeMillis".into(),
        json!(if scheduled { elapsed } else { 0 }),
    );
    stats.insert(
        "queuedTimeMillis".into(),
        json!(if queued { elapsed } else { elapsed.min(1) }),
    );
    stats.insert("elapsedTimeMillis".into(), json!(elapsed));
    stats.insert("processedRows".into(), json!(processed_rows));
    stats.insert("processedBytes".into(), json!(processed_bytes));
    stats.insert("physicalInputBytes".into(), json!(processed_bytes));
    stats.insert("physicalWrittenBytes".into(), json!(0));
    stats.insert(
        "peakMemoryBytes".into(),
        json!(if scheduled { 1024 } else { 0 }),
    );
    stats.insert("spilledBytes".into(), json!(0));
    if scheduled {
        let root_state = match kind {
            PageKind::Finished(_) => "FINISHED",
            PageKind::Failed(_) => "FAILED",
            _ => "RUNNING",
        };
        stats.insert(
            "rootStage".into(),
            json!({
                "stageId": "0",
                "state": root_state,
                "done": root_state != "RUNNING",
                "nodes": 1,
                "totalSplits": total_splits,
                "queuedSplits": 0,
                "runningSplits": running,
                "completedSplits": completed,
                "cpuTimeMillis": 1,
                "wallTimeMillis": elapsed,
                "processedRows": processed_rows,
                "processedBytes": processed_bytes,
                "physicalInputBytes": processed_bytes,
                "failedTasks": 0,
                "coordinatorOnly": false,
                "subStages": [],
            }),
        );
    }
    Value::Object(stats)
}

// ---------------------------------------------------------------------------------------------
// Outcomes and errors

#[derive(Clone)]
enum Outcome {
    Done(Arc<Done>),
    Failed(Arc<TrinoError>),
}

/// A successful statement: its result set (possibly the synthetic `rows` column of an update)
/// and the session headers it sets.
struct Done {
    columns: Vec<OutColumn>,
    rows: Vec<Vec<Value>>,
    update_type: Option<String>,
    update_count: Option<u64>,
    headers: Vec<(&'static str, String)>,
}

impl Done {
    fn update(update_type: &str, count: Option<u64>) -> Done {
        let (columns, rows) = match count {
            Some(n) => (
                vec![OutColumn {
                    name: "rows".into(),
                    ty: TrinoType::Bigint,
                }],
                vec![vec![json!(n)]],
            ),
            None => (Vec::new(), Vec::new()),
        };
        Done {
            columns,
            rows,
            update_type: Some(update_type.to_string()),
            update_count: count,
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: &'static str, value: String) -> Done {
        self.headers.push((name, value));
        self
    }

    /// A result set of `varchar` columns.
    fn varchar_table(names: &[&str], rows: Vec<Vec<Option<String>>>) -> Done {
        Done {
            columns: names
                .iter()
                .map(|n| OutColumn {
                    name: n.to_string(),
                    ty: TrinoType::Varchar(None),
                })
                .collect(),
            rows: rows
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .map(|v| v.map_or(Value::Null, Value::String))
                        .collect()
                })
                .collect(),
            update_type: None,
            update_count: None,
            headers: Vec::new(),
        }
    }
}

struct OutColumn {
    name: String,
    ty: TrinoType,
}

/// A Trino `QueryError`.
#[derive(Debug, Clone)]
struct TrinoError {
    code: i64,
    name: &'static str,
    error_type: &'static str,
    message: String,
    /// 1-based (line, column).
    location: Option<(usize, usize)>,
    exception: &'static str,
}

impl TrinoError {
    fn user(code: i64, name: &'static str, message: String) -> TrinoError {
        TrinoError {
            code,
            name,
            error_type: "USER_ERROR",
            message,
            location: None,
            exception: "io.trino.spi.TrinoException",
        }
    }

    fn internal(message: String) -> TrinoError {
        TrinoError {
            code: 65536,
            name: "GENERIC_INTERNAL_ERROR",
            error_type: "INTERNAL_ERROR",
            message,
            location: None,
            exception: "io.trino.spi.TrinoException",
        }
    }

    fn canceled() -> TrinoError {
        TrinoError::user(3, "USER_CANCELED", "Query was canceled".to_string())
    }

    fn to_json(&self) -> Value {
        let location = self
            .location
            .map(|(line, column)| json!({"lineNumber": line, "columnNumber": column}));
        let mut failure = Map::new();
        failure.insert("type".into(), json!(self.exception));
        failure.insert("message".into(), json!(self.message));
        failure.insert("suppressed".into(), json!([]));
        failure.insert("stack".into(), json!([]));
        let mut error = Map::new();
        error.insert("message".into(), json!(self.message));
        error.insert("errorCode".into(), json!(self.code));
        error.insert("errorName".into(), json!(self.name));
        error.insert("errorType".into(), json!(self.error_type));
        if let Some(location) = location {
            failure.insert("errorLocation".into(), location.clone());
            error.insert("errorLocation".into(), location);
        }
        error.insert("failureInfo".into(), Value::Object(failure));
        Value::Object(error)
    }
}

fn failed(error: TrinoError) -> Outcome {
    Outcome::Failed(Arc::new(error))
}

/// Maps a Postgres failure to the error Trino would report for the same mistake.
fn map_sqlx_error(
    err: &sqlx::Error,
    sql: &Translated,
    session: &SessionCtx,
    catalog: &str,
) -> TrinoError {
    let Some(db) = err
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    else {
        return TrinoError::internal(format!("Postgres: {err}"));
    };
    let code = db.code();
    let pg_message = db.message();
    let location = match db.position() {
        Some(PgErrorPosition::Original(position)) => Some(sql.location(position)),
        _ => None,
    }
    .or_else(|| Some(sql.location(1)).filter(|_| code == "42601"));
    let prefix = location
        .map(|(l, c)| format!("line {l}:{c}: "))
        .unwrap_or_default();
    let quoted = quoted_name(pg_message);
    let qualify = |name: &str| -> String {
        let parts: Vec<&str> = name.split('.').collect();
        match parts.len() {
            1 => match &session.schema {
                Some(schema) => format!("{catalog}.{schema}.{name}"),
                None => format!("{catalog}.{name}"),
            },
            2 => format!("{catalog}.{name}"),
            _ => name.to_string(),
        }
    };
    let (code_num, name, message, exception) = match code {
        "42601" => (
            1,
            "SYNTAX_ERROR",
            format!("{prefix}{pg_message}"),
            "io.trino.sql.parser.ParsingException",
        ),
        "42P01" => {
            let table = quoted.unwrap_or_else(|| pg_message.to_string());
            (
                46,
                "TABLE_NOT_FOUND",
                format!("{prefix}Table '{}' does not exist", qualify(&table)),
                "io.trino.spi.TrinoException",
            )
        }
        "3F000" => (
            45,
            "SCHEMA_NOT_FOUND",
            format!(
                "{prefix}Schema '{}' does not exist",
                quoted.unwrap_or_default()
            ),
            "io.trino.spi.TrinoException",
        ),
        "42703" => {
            let column = undefined_column(pg_message);
            (
                47,
                "COLUMN_NOT_FOUND",
                format!("{prefix}Column '{column}' cannot be resolved"),
                "io.trino.spi.TrinoException",
            )
        }
        "42883" if pg_message.starts_with("function") => (
            6,
            "FUNCTION_NOT_FOUND",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42883" => (
            10,
            "OPERATOR_NOT_FOUND",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "0A000" if pg_message.starts_with("cross-database references") => {
            let name = quoted.unwrap_or_default();
            let catalog = name.split('.').next().unwrap_or_default().to_string();
            (
                44,
                "CATALOG_NOT_FOUND",
                format!("{prefix}Catalog '{catalog}' not found"),
                "io.trino.spi.TrinoException",
            )
        }
        "0A000" => (
            13,
            "NOT_SUPPORTED",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42P07" => (
            50,
            "TABLE_ALREADY_EXISTS",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42P06" => (
            49,
            "SCHEMA_ALREADY_EXISTS",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42701" => (
            51,
            "COLUMN_ALREADY_EXISTS",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42702" => (
            62,
            "AMBIGUOUS_NAME",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42804" | "42846" => (
            58,
            "TYPE_MISMATCH",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "42501" => (
            4,
            "PERMISSION_DENIED",
            format!("Access Denied: {pg_message}"),
            "io.trino.spi.security.AccessDeniedException",
        ),
        "22012" => (
            8,
            "DIVISION_BY_ZERO",
            "Division by zero".to_string(),
            "io.trino.spi.TrinoException",
        ),
        "22003" => (
            19,
            "NUMERIC_VALUE_OUT_OF_RANGE",
            pg_message.to_string(),
            "io.trino.spi.TrinoException",
        ),
        "22P02" | "22007" | "22008" => (
            9,
            "INVALID_CAST_ARGUMENT",
            pg_message.to_string(),
            "io.trino.spi.TrinoException",
        ),
        "25006" => (
            23,
            "READ_ONLY_VIOLATION",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
        "25P02" => (
            22,
            "TRANSACTION_ALREADY_ABORTED",
            "Current transaction is aborted, commands ignored until end of transaction block"
                .to_string(),
            "io.trino.spi.TrinoException",
        ),
        "57014" => (
            3,
            "USER_CANCELED",
            "Query was canceled".to_string(),
            "io.trino.spi.TrinoException",
        ),
        c if c.starts_with("23") => (
            16,
            "CONSTRAINT_VIOLATION",
            pg_message.to_string(),
            "io.trino.spi.TrinoException",
        ),
        c if c.starts_with("53") => {
            return TrinoError {
                code: 131_072,
                name: "GENERIC_INSUFFICIENT_RESOURCES",
                error_type: "INSUFFICIENT_RESOURCES",
                message: pg_message.to_string(),
                location: None,
                exception: "io.trino.spi.TrinoException",
            };
        }
        c if c.starts_with("08") || c.starts_with("XX") || c.starts_with("58") => {
            return TrinoError::internal(pg_message.to_string());
        }
        _ => (
            0,
            "GENERIC_USER_ERROR",
            format!("{prefix}{pg_message}"),
            "io.trino.spi.TrinoException",
        ),
    };
    TrinoError {
        code: code_num,
        name,
        error_type: "USER_ERROR",
        message,
        location,
        exception,
    }
}

/// The first `"double-quoted"` part of a Postgres message.
fn quoted_name(message: &str) -> Option<String> {
    let start = message.find('"')? + 1;
    let end = start + message[start..].find('"')?;
    Some(message[start..end].to_string())
}

/// `column "foo" does not exist` / `column o.foo does not exist` -> `foo` / `o.foo`.
fn undefined_column(message: &str) -> String {
    let rest = message.strip_prefix("column ").unwrap_or(message);
    let name = rest.split(" does not exist").next().unwrap_or(rest);
    name.replace('"', "")
}

// ---------------------------------------------------------------------------------------------
// SQL text: tokens, the catalog rewrite, statement classification

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Word,
    Quoted,
    Str,
    Num,
    Sym(char),
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    text: String,
    /// Char offset of the token in the source.
    start: usize,
}

impl Tok {
    fn is_word(&self, w: &str) -> bool {
        self.kind == TokKind::Word && self.text.eq_ignore_ascii_case(w)
    }

    fn is_sym(&self, c: char) -> bool {
        self.kind == TokKind::Sym(c)
    }

    /// An identifier as Trino/Postgres fold it: unquoted lower-cased, quoted verbatim.
    fn ident(&self) -> Option<String> {
        match self.kind {
            TokKind::Word => Some(self.text.to_lowercase()),
            TokKind::Quoted => Some(self.text.clone()),
            _ => None,
        }
    }
}

/// Splits SQL into tokens, skipping blanks and comments. Never fails: an unterminated string
/// or identifier runs to the end.
fn tokenize(sql: &str) -> Vec<Tok> {
    let chars: Vec<char> = sql.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i = (i + 2).min(chars.len());
        } else if c == '\'' || c == '"' {
            let mut text = String::new();
            i += 1;
            while i < chars.len() {
                if chars[i] == c {
                    if chars.get(i + 1) == Some(&c) {
                        text.push(c);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                text.push(chars[i]);
                i += 1;
            }
            let kind = if c == '\'' {
                TokKind::Str
            } else {
                TokKind::Quoted
            };
            toks.push(Tok { kind, text, start });
        } else if c.is_alphabetic() || c == '_' {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            toks.push(Tok {
                kind: TokKind::Word,
                text,
                start,
            });
        } else if c.is_ascii_digit() {
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            toks.push(Tok {
                kind: TokKind::Num,
                text,
                start,
            });
        } else {
            i += 1;
            toks.push(Tok {
                kind: TokKind::Sym(c),
                text: c.to_string(),
                start,
            });
        }
    }
    toks
}

/// The SQL sent to Postgres, with a map back to the client's text for error locations.
#[derive(Debug, Clone)]
struct Translated {
    original: String,
    sql: String,
    /// For each char of `sql`, its char offset in `original`.
    map: Vec<usize>,
}

impl Translated {
    /// A 1-based char position in `sql` (as Postgres reports it) -> 1-based (line, column) in
    /// the client's text.
    fn location(&self, position: usize) -> (usize, usize) {
        let index = self
            .map
            .get(position.saturating_sub(1))
            .copied()
            .unwrap_or_else(|| self.original.chars().count());
        let (mut line, mut column) = (1, 1);
        for c in self.original.chars().take(index) {
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        (line, column)
    }
}

/// Drops `catalog.` in front of names of three or more parts (`postgres.gold.orders`).
fn translate(sql: &str, catalog: &str) -> Translated {
    let toks = tokenize(sql);
    let mut cut: Vec<(usize, usize)> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let is_catalog = match t.kind {
            TokKind::Word => t.text.eq_ignore_ascii_case(catalog),
            TokKind::Quoted => t.text == catalog,
            _ => false,
        };
        let preceded_by_dot = i > 0 && toks[i - 1].is_sym('.');
        let three_parts = matches!(
            toks.get(i + 1..i + 5),
            Some([d1, a, d2, b])
                if d1.is_sym('.') && a.ident().is_some() && d2.is_sym('.') && (b.ident().is_some() || b.is_sym('*'))
        );
        if is_catalog && !preceded_by_dot && three_parts {
            cut.push((t.start, toks[i + 2].start));
        }
    }
    let mut out = String::with_capacity(sql.len());
    let mut map = Vec::with_capacity(sql.len());
    for (i, c) in sql.chars().enumerate() {
        if cut.iter().any(|(s, e)| i >= *s && i < *e) {
            continue;
        }
        out.push(c);
        // Postgres points at `schema.table`; Trino at the whole `catalog.schema.table`.
        map.push(cut.iter().find(|(_, e)| *e == i).map_or(i, |(s, _)| *s));
    }
    Translated {
        original: sql.to_string(),
        sql: out,
        map,
    }
}

/// Statements the server answers itself instead of passing them to Postgres.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Special {
    StartTransaction,
    Commit,
    Rollback,
    SetSession {
        name: String,
        value: String,
    },
    ResetSession {
        name: String,
    },
    Use {
        catalog: Option<String>,
        schema: String,
    },
    ShowCatalogs {
        like: Option<String>,
    },
    ShowSchemas {
        like: Option<String>,
    },
    ShowTables {
        schema: Option<Vec<String>>,
        like: Option<String>,
    },
    ShowColumns {
        name: Vec<String>,
    },
}

/// A dotted name starting at `toks[i]`; returns the parts and the index after it.
fn qualified_name(toks: &[Tok], mut i: usize) -> (Vec<String>, usize) {
    let mut parts = Vec::new();
    while let Some(part) = toks.get(i).and_then(Tok::ident) {
        parts.push(part);
        i += 1;
        if toks.get(i).is_some_and(|t| t.is_sym('.')) {
            i += 1;
        } else {
            break;
        }
    }
    (parts, i)
}

fn like_clause(toks: &[Tok], i: usize) -> Option<String> {
    match toks.get(i..i + 2) {
        Some([l, p]) if l.is_word("LIKE") && p.kind == TokKind::Str => Some(p.text.clone()),
        _ => None,
    }
}

fn classify(sql: &str) -> Option<Special> {
    let mut toks = tokenize(sql);
    while toks.last().is_some_and(|t| t.is_sym(';')) {
        toks.pop();
    }
    let word = |i: usize, w: &str| toks.get(i).is_some_and(|t| t.is_word(w));
    if word(0, "START") && word(1, "TRANSACTION") {
        return Some(Special::StartTransaction);
    }
    if (word(0, "COMMIT") || word(0, "ROLLBACK"))
        && (toks.len() == 1 || (toks.len() == 2 && word(1, "WORK")))
    {
        return Some(if word(0, "COMMIT") {
            Special::Commit
        } else {
            Special::Rollback
        });
    }
    if word(0, "SET") && word(1, "SESSION") && !word(2, "AUTHORIZATION") {
        let (parts, i) = qualified_name(&toks, 2);
        let eq = toks.get(i).is_some_and(|t| t.is_sym('='));
        let value: String = toks
            .get(i + 1..)
            .unwrap_or_default()
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join("");
        if !parts.is_empty() && eq {
            return Some(Special::SetSession {
                name: parts.join("."),
                value,
            });
        }
    }
    if word(0, "RESET") && word(1, "SESSION") && !word(2, "AUTHORIZATION") {
        let (parts, _) = qualified_name(&toks, 2);
        if !parts.is_empty() {
            return Some(Special::ResetSession {
                name: parts.join("."),
            });
        }
    }
    if word(0, "USE") {
        let (mut parts, i) = qualified_name(&toks, 1);
        if i == toks.len() && (parts.len() == 1 || parts.len() == 2) {
            let schema = parts.pop().unwrap_or_default();
            return Some(Special::Use {
                catalog: parts.pop(),
                schema,
            });
        }
    }
    if word(0, "SHOW") && word(1, "CATALOGS") {
        return Some(Special::ShowCatalogs {
            like: like_clause(&toks, 2),
        });
    }
    if word(0, "SHOW") && word(1, "SCHEMAS") {
        let i = if word(2, "FROM") || word(2, "IN") {
            qualified_name(&toks, 3).1
        } else {
            2
        };
        return Some(Special::ShowSchemas {
            like: like_clause(&toks, i),
        });
    }
    if word(0, "SHOW") && word(1, "TABLES") {
        let (schema, i) = if word(2, "FROM") || word(2, "IN") {
            let (parts, i) = qualified_name(&toks, 3);
            (Some(parts), i)
        } else {
            (None, 2)
        };
        return Some(Special::ShowTables {
            schema,
            like: like_clause(&toks, i),
        });
    }
    if word(0, "SHOW") && word(1, "COLUMNS") && (word(2, "FROM") || word(2, "IN")) {
        let (name, _) = qualified_name(&toks, 3);
        return Some(Special::ShowColumns { name });
    }
    if word(0, "DESCRIBE") && !word(1, "INPUT") && !word(1, "OUTPUT") {
        let (name, _) = qualified_name(&toks, 1);
        if !name.is_empty() {
            return Some(Special::ShowColumns { name });
        }
    }
    None
}

/// Trino's `updateType` for a statement without a result set, and whether it reports a row
/// count.
fn update_type(sql: &str) -> (String, bool) {
    let toks = tokenize(sql);
    let words: Vec<String> = toks
        .iter()
        .filter(|t| t.kind == TokKind::Word)
        .take(8)
        .map(|t| t.text.to_uppercase())
        .collect();
    let w = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let has = |k: &str| words.iter().any(|x| x == k);
    match w(0) {
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" => (w(0).to_string(), true),
        "CREATE" => {
            let mut i = 1;
            if w(i) == "OR" {
                i += 2;
            }
            while matches!(w(i), "TEMP" | "TEMPORARY" | "UNLOGGED") {
                i += 1;
            }
            let as_query = toks.windows(3).any(|t| {
                !t[0].is_word("ALWAYS")
                    && t[1].is_word("AS")
                    && (t[2].is_sym('(')
                        || ["SELECT", "WITH", "VALUES", "TABLE"]
                            .iter()
                            .any(|k| t[2].is_word(k)))
            });
            match w(i) {
                "TABLE" if as_query => ("CREATE TABLE".to_string(), true),
                "MATERIALIZED" => ("CREATE MATERIALIZED VIEW".to_string(), false),
                other => (format!("CREATE {other}").trim().to_string(), false),
            }
        }
        "ALTER" if w(1) == "TABLE" => {
            let kind = if has("RENAME") && has("COLUMN") {
                "RENAME COLUMN"
            } else if has("RENAME") {
                "RENAME TABLE"
            } else if has("ADD") {
                "ADD COLUMN"
            } else if has("DROP") {
                "DROP COLUMN"
            } else {
                "ALTER TABLE"
            };
            (kind.to_string(), false)
        }
        "DROP" => (format!("DROP {}", w(1)), false),
        "TRUNCATE" => ("TRUNCATE TABLE".to_string(), false),
        "COMMENT" => ("COMMENT".to_string(), false),
        "" => ("UNKNOWN".to_string(), false),
        other => (other.to_string(), false),
    }
}

// ---------------------------------------------------------------------------------------------
// Types

/// A Trino type as it appears in `columns`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TrinoType {
    Boolean,
    Smallint,
    Integer,
    Bigint,
    Real,
    Double,
    Decimal(i64, i64),
    Varchar(Option<i64>),
    Char(i64),
    Date,
    Time(u32),
    TimeTz(u32),
    Timestamp(u32),
    TimestampTz(u32),
    Varbinary,
    Uuid,
    Json,
    Array(Box<TrinoType>),
    Map(Box<TrinoType>, Box<TrinoType>),
    Row(Vec<(String, TrinoType)>),
}

impl TrinoType {
    /// The `type` of a result column (Trino's `formatType`: `decimal(12, 2)`,
    /// `map(varchar, varchar)`, `row(x bigint, y varchar)`). Without the
    /// `PARAMETRIC_DATETIME` capability date-time types lose their precision.
    fn result_name(&self, parametric: bool) -> String {
        self.name(parametric, ", ")
    }

    /// The type as `DESCRIBE` shows it (`Type.getDisplayName()`: `decimal(12,2)`).
    fn display_name(&self) -> String {
        self.name(true, ",")
    }

    fn name(&self, parametric: bool, number_sep: &str) -> String {
        let dt = |base: &str, p: u32, suffix: &str| {
            if parametric {
                format!("{base}({p}){suffix}")
            } else {
                format!("{base}{suffix}")
            }
        };
        match self {
            TrinoType::Boolean => "boolean".into(),
            TrinoType::Smallint => "smallint".into(),
            TrinoType::Integer => "integer".into(),
            TrinoType::Bigint => "bigint".into(),
            TrinoType::Real => "real".into(),
            TrinoType::Double => "double".into(),
            TrinoType::Decimal(p, s) => format!("decimal({p}{number_sep}{s})"),
            TrinoType::Varchar(None) => "varchar".into(),
            TrinoType::Varchar(Some(n)) => format!("varchar({n})"),
            TrinoType::Char(n) => format!("char({n})"),
            TrinoType::Date => "date".into(),
            TrinoType::Time(p) => dt("time", *p, ""),
            TrinoType::TimeTz(p) => dt("time", *p, " with time zone"),
            TrinoType::Timestamp(p) => dt("timestamp", *p, ""),
            TrinoType::TimestampTz(p) => dt("timestamp", *p, " with time zone"),
            TrinoType::Varbinary => "varbinary".into(),
            TrinoType::Uuid => "uuid".into(),
            TrinoType::Json => "json".into(),
            TrinoType::Array(t) => format!("array({})", t.name(parametric, number_sep)),
            TrinoType::Map(k, v) => format!(
                "map({}, {})",
                k.name(parametric, number_sep),
                v.name(parametric, number_sep)
            ),
            TrinoType::Row(fields) => format!(
                "row({})",
                fields
                    .iter()
                    .map(|(n, t)| format!("{n} {}", t.name(parametric, number_sep)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// `ClientTypeSignature`: `{"rawType": ..., "arguments": [{"kind": ..., "value": ...}]}`.
    fn signature(&self, parametric: bool) -> Value {
        let long = |v: i64| json!({"kind": "LONG", "value": v});
        let ty = |t: &TrinoType| json!({"kind": "TYPE", "value": t.signature(parametric)});
        let precision = |p: u32| {
            if parametric {
                vec![long(i64::from(p))]
            } else {
                Vec::new()
            }
        };
        let (raw, arguments): (&str, Vec<Value>) = match self {
            TrinoType::Boolean => ("boolean", Vec::new()),
            TrinoType::Smallint => ("smallint", Vec::new()),
            TrinoType::Integer => ("integer", Vec::new()),
            TrinoType::Bigint => ("bigint", Vec::new()),
            TrinoType::Real => ("real", Vec::new()),
            TrinoType::Double => ("double", Vec::new()),
            TrinoType::Decimal(p, s) => ("decimal", vec![long(*p), long(*s)]),
            TrinoType::Varchar(n) => ("varchar", vec![long(n.unwrap_or(VARCHAR_UNBOUNDED))]),
            TrinoType::Char(n) => ("char", vec![long(*n)]),
            TrinoType::Date => ("date", Vec::new()),
            TrinoType::Time(p) => ("time", precision(*p)),
            TrinoType::TimeTz(p) => ("time with time zone", precision(*p)),
            TrinoType::Timestamp(p) => ("timestamp", precision(*p)),
            TrinoType::TimestampTz(p) => ("timestamp with time zone", precision(*p)),
            TrinoType::Varbinary => ("varbinary", Vec::new()),
            TrinoType::Uuid => ("uuid", Vec::new()),
            TrinoType::Json => ("json", Vec::new()),
            TrinoType::Array(t) => ("array", vec![ty(t)]),
            TrinoType::Map(k, v) => ("map", vec![ty(k), ty(v)]),
            TrinoType::Row(fields) => (
                "row",
                fields
                    .iter()
                    .map(|(n, t)| {
                        json!({
                            "kind": "NAMED_TYPE",
                            "value": {"fieldName": {"name": n}, "typeSignature": t.signature(parametric)},
                        })
                    })
                    .collect(),
            ),
        };
        json!({"rawType": raw, "arguments": arguments})
    }
}

/// A Postgres column type, reduced to what decides its Trino type and encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `(precision, scale)`, `None` when unconstrained.
    Numeric(Option<(i64, i64)>),
    /// `text`, `varchar(n)`, `name`, enums and anything without a better mapping.
    Text(Option<i64>),
    Bpchar(Option<i64>),
    Date,
    Time(u32),
    TimeTz(u32),
    Timestamp(u32),
    TimestampTz(u32),
    Bytea,
    Uuid,
    Json,
    Array(Box<PgKind>),
}

fn datetime_precision(typmod: i32) -> u32 {
    if typmod < 0 {
        6
    } else {
        typmod.clamp(0, 6) as u32
    }
}

fn builtin_kind(oid: u32, typmod: i32) -> Option<PgKind> {
    let length = (typmod >= 4).then(|| i64::from(typmod - 4));
    Some(match oid {
        16 => PgKind::Bool,
        17 => PgKind::Bytea,
        18 | 19 | 25 | 705 => PgKind::Text(None),
        20 | 26 => PgKind::Int8,
        21 => PgKind::Int2,
        23 => PgKind::Int4,
        114 | 3802 => PgKind::Json,
        700 => PgKind::Float4,
        701 => PgKind::Float8,
        1042 => PgKind::Bpchar(length),
        1043 => PgKind::Text(length),
        1082 => PgKind::Date,
        1083 => PgKind::Time(datetime_precision(typmod)),
        1114 => PgKind::Timestamp(datetime_precision(typmod)),
        1184 => PgKind::TimestampTz(datetime_precision(typmod)),
        1266 => PgKind::TimeTz(datetime_precision(typmod)),
        1700 => PgKind::Numeric((typmod >= 4).then(|| {
            let t = typmod - 4;
            let precision = i64::from((t >> 16) & 0xffff);
            let scale = i64::from(((t & 0x7ff) ^ 1024) - 1024);
            (precision, scale)
        })),
        2950 => PgKind::Uuid,
        _ => return None,
    })
}

fn builtin_array_element(oid: u32) -> Option<u32> {
    Some(match oid {
        1000 => 16,
        1001 => 17,
        1002 => 18,
        1003 => 19,
        1005 => 21,
        1007 => 23,
        1009 => 25,
        1014 => 1042,
        1015 => 1043,
        1016 => 20,
        1021 => 700,
        1022 => 701,
        1115 => 1114,
        1182 => 1082,
        1183 => 1083,
        1185 => 1184,
        1231 => 1700,
        1270 => 1266,
        199 => 114,
        2951 => 2950,
        3807 => 3802,
        _ => return None,
    })
}

/// Resolves a type oid (following domains and arrays through `pg_type`).
async fn resolve_kind(conn: &mut PgConnection, oid: u32, typmod: i32) -> PgKind {
    let (mut oid, mut typmod, mut depth) = (oid, typmod, 0);
    let mut kind = PgKind::Text(None);
    for _ in 0..16 {
        if let Some(k) = builtin_kind(oid, typmod) {
            kind = k;
            break;
        }
        if let Some(element) = builtin_array_element(oid) {
            depth += 1;
            oid = element;
            continue;
        }
        let row: Option<(String, String, i64, i64, i32)> = sqlx::query_as(
            "SELECT typtype::text, typcategory::text, typelem::int8, typbasetype::int8, typtypmod \
             FROM pg_catalog.pg_type WHERE oid = ($1::int8)::oid",
        )
        .bind(i64::from(oid))
        .fetch_optional(&mut *conn)
        .await
        .ok()
        .flatten();
        match row {
            Some((t, _, _, base, base_typmod)) if t == "d" => {
                oid = u32::try_from(base).unwrap_or(25);
                if typmod < 0 {
                    typmod = base_typmod;
                }
            }
            Some((_, category, element, _, _)) if category == "A" && element != 0 => {
                depth += 1;
                oid = u32::try_from(element).unwrap_or(25);
            }
            _ => break,
        }
    }
    for _ in 0..depth {
        kind = PgKind::Array(Box::new(kind));
    }
    kind
}

/// How a result column is turned into Trino's type and values.
#[derive(Debug, Clone)]
enum Encoder {
    Plain(PgKind),
    /// `__map` convention.
    Map,
    /// `__row` convention with the inferred fields.
    Row(Vec<(String, TrinoType)>),
}

fn trino_type_of(kind: &PgKind, numeric_scale: i64) -> TrinoType {
    match kind {
        PgKind::Bool => TrinoType::Boolean,
        PgKind::Int2 => TrinoType::Smallint,
        PgKind::Int4 => TrinoType::Integer,
        PgKind::Int8 => TrinoType::Bigint,
        PgKind::Float4 => TrinoType::Real,
        PgKind::Float8 => TrinoType::Double,
        PgKind::Numeric(Some((p, s))) => {
            let p = (*p).clamp(1, MAX_DECIMAL_PRECISION);
            TrinoType::Decimal(p, (*s).clamp(0, p))
        }
        PgKind::Numeric(None) => TrinoType::Decimal(
            MAX_DECIMAL_PRECISION,
            numeric_scale.clamp(0, MAX_DECIMAL_PRECISION),
        ),
        PgKind::Text(n) => TrinoType::Varchar(*n),
        PgKind::Bpchar(Some(n)) => TrinoType::Char(*n),
        PgKind::Bpchar(None) => TrinoType::Varchar(None),
        PgKind::Date => TrinoType::Date,
        PgKind::Time(p) => TrinoType::Time(*p),
        PgKind::TimeTz(p) => TrinoType::TimeTz(*p),
        PgKind::Timestamp(p) => TrinoType::Timestamp(*p),
        PgKind::TimestampTz(p) => TrinoType::TimestampTz(*p),
        PgKind::Bytea => TrinoType::Varbinary,
        PgKind::Uuid => TrinoType::Uuid,
        PgKind::Json => TrinoType::Json,
        PgKind::Array(inner) => TrinoType::Array(Box::new(trino_type_of(inner, numeric_scale))),
    }
}

/// The largest number of decimals among the values of an unconstrained `numeric` column.
fn numeric_scale(kind: &PgKind, text: &str) -> i64 {
    match kind {
        PgKind::Numeric(None) => text.split_once('.').map_or(0, |(_, f)| {
            f.chars().take_while(char::is_ascii_digit).count() as i64
        }),
        PgKind::Array(inner) => {
            fn walk(inner: &PgKind, elems: &[ArrayElem]) -> i64 {
                elems
                    .iter()
                    .map(|e| match e {
                        ArrayElem::Null => 0,
                        ArrayElem::Value(v) => numeric_scale(inner, v),
                        ArrayElem::Nested(n) => walk(inner, n),
                    })
                    .max()
                    .unwrap_or(0)
            }
            parse_pg_array(text).map_or(0, |elems| walk(inner, &elems))
        }
        _ => 0,
    }
}

/// Encodes one non-null Postgres text value the way Trino's JSON protocol does.
fn encode_value(
    kind: &PgKind,
    ty: &TrinoType,
    text: &str,
    parametric: bool,
) -> Result<Value, String> {
    let precision = |p: u32| if parametric { p } else { 3 };
    Ok(match (kind, ty) {
        (PgKind::Bool, _) => Value::Bool(matches!(text, "t" | "true" | "TRUE" | "1")),
        (PgKind::Int2 | PgKind::Int4 | PgKind::Int8, _) => text
            .parse::<i64>()
            .map(Value::from)
            .map_err(|e| format!("bad integer {text:?}: {e}"))?,
        (PgKind::Float4 | PgKind::Float8, _) => match text {
            "NaN" | "Infinity" | "-Infinity" => Value::String(text.to_string()),
            _ => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("bad floating point value {text:?}"))?,
        },
        (PgKind::Numeric(_), TrinoType::Decimal(_, scale)) => Value::String(rescale(text, *scale)?),
        (PgKind::Time(_), TrinoType::Time(p)) => Value::String(with_fraction(text, precision(*p))),
        (PgKind::TimeTz(_), TrinoType::TimeTz(p)) => {
            let split = text
                .char_indices()
                .skip(8)
                .find(|(_, c)| *c == '+' || *c == '-')
                .map_or(text.len(), |(i, _)| i);
            let (time, offset) = text.split_at(split);
            Value::String(format!(
                "{}{}",
                with_fraction(time, precision(*p)),
                offset_text(offset)
            ))
        }
        (PgKind::Timestamp(_), TrinoType::Timestamp(p)) => {
            Value::String(timestamp_text(text, precision(*p)).0)
        }
        (PgKind::TimestampTz(_), TrinoType::TimestampTz(p)) => {
            let (local, offset) = timestamp_text(text, precision(*p));
            let zone = match offset.as_str() {
                "" | "+00" | "+00:00" | "-00" => "UTC".to_string(),
                other => offset_text(other),
            };
            Value::String(format!("{local} {zone}"))
        }
        (PgKind::Bytea, _) => {
            let hex_digits = text.strip_prefix("\\x").unwrap_or(text);
            let bytes = hex::decode(hex_digits).map_err(|e| format!("bad bytea {text:?}: {e}"))?;
            Value::String(base64(&bytes))
        }
        (PgKind::Json, _) => Value::String(
            serde_json::from_str::<Value>(text)
                .map(|v| v.to_string())
                .unwrap_or_else(|_| text.to_string()),
        ),
        (PgKind::Array(inner), TrinoType::Array(inner_ty)) => {
            let elems =
                parse_pg_array(text).ok_or_else(|| format!("bad array literal {text:?}"))?;
            encode_array(inner, inner_ty, &elems, parametric)?
        }
        _ => Value::String(text.to_string()),
    })
}

fn encode_array(
    kind: &PgKind,
    ty: &TrinoType,
    elems: &[ArrayElem],
    parametric: bool,
) -> Result<Value, String> {
    elems
        .iter()
        .map(|e| match e {
            ArrayElem::Null => Ok(Value::Null),
            ArrayElem::Value(v) => encode_value(kind, ty, v, parametric),
            ArrayElem::Nested(n) => encode_array(kind, ty, n, parametric),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// `12.5` at scale 2 -> `12.50`; errors on values Trino's decimal cannot hold.
fn rescale(text: &str, scale: i64) -> Result<String, String> {
    if matches!(text, "NaN" | "Infinity" | "-Infinity") {
        return Err(format!(
            "Decimal value {text} cannot be represented in Trino"
        ));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let scale = usize::try_from(scale).unwrap_or(0);
    let mut frac: String = frac.chars().take(scale).collect();
    while frac.len() < scale {
        frac.push('0');
    }
    Ok(if scale == 0 {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    })
}

/// `12:34:56.5` with 3 digits -> `12:34:56.500`; 0 digits drops the fraction.
fn with_fraction(hms: &str, digits: u32) -> String {
    let (whole, frac) = hms.split_once('.').unwrap_or((hms, ""));
    if digits == 0 {
        return whole.to_string();
    }
    let digits = digits as usize;
    let mut frac: String = frac.chars().take(digits).collect();
    while frac.len() < digits {
        frac.push('0');
    }
    format!("{whole}.{frac}")
}

/// `2026-11-30 00:00:00.5+00` -> (`2026-11-30 00:00:00.500`, `+00`) for 3 digits.
fn timestamp_text(text: &str, digits: u32) -> (String, String) {
    let Some((date, rest)) = text.split_once(' ') else {
        return (text.to_string(), String::new());
    };
    let (rest, era) = match rest.strip_suffix(" BC") {
        Some(r) => (r, " BC"),
        None => (rest, ""),
    };
    let split = rest
        .char_indices()
        .skip(8)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(rest.len(), |(i, _)| i);
    let (time, offset) = rest.split_at(split);
    (
        format!("{date} {}{era}", with_fraction(time, digits)),
        offset.to_string(),
    )
}

/// `+05:30`, `+02`, `-08` -> `+05:30`, `+02:00`, `-08:00`.
fn offset_text(offset: &str) -> String {
    let mut parts = offset.splitn(3, ':');
    let hours = parts.next().unwrap_or("+00");
    let minutes = parts.next().unwrap_or("00");
    format!("{hours}:{minutes}")
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ArrayElem {
    Null,
    Value(String),
    Nested(Vec<ArrayElem>),
}

/// Parses Postgres' array output (`{1,NULL,"a b"}`, `[0:1]={1,2}`, `{{1,2},{3,4}}`).
fn parse_pg_array(text: &str) -> Option<Vec<ArrayElem>> {
    let text = match text.find("={") {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let elems = parse_array_level(&chars, &mut i)?;
    Some(elems)
}

fn parse_array_level(chars: &[char], i: &mut usize) -> Option<Vec<ArrayElem>> {
    if chars.get(*i) != Some(&'{') {
        return None;
    }
    *i += 1;
    let mut elems = Vec::new();
    if chars.get(*i) == Some(&'}') {
        *i += 1;
        return Some(elems);
    }
    loop {
        match chars.get(*i)? {
            '{' => elems.push(ArrayElem::Nested(parse_array_level(chars, i)?)),
            '"' => {
                *i += 1;
                let mut s = String::new();
                loop {
                    match chars.get(*i)? {
                        '\\' => {
                            s.push(*chars.get(*i + 1)?);
                            *i += 2;
                        }
                        '"' => {
                            *i += 1;
                            break;
                        }
                        c => {
                            s.push(*c);
                            *i += 1;
                        }
                    }
                }
                elems.push(ArrayElem::Value(s));
            }
            _ => {
                let start = *i;
                while !matches!(chars.get(*i), Some(',') | Some('}') | None) {
                    *i += 1;
                }
                let raw: String = chars[start..*i].iter().collect();
                let raw = raw.trim();
                elems.push(if raw.eq_ignore_ascii_case("NULL") {
                    ArrayElem::Null
                } else {
                    ArrayElem::Value(raw.to_string())
                });
            }
        }
        match chars.get(*i)? {
            ',' => *i += 1,
            '}' => {
                *i += 1;
                return Some(elems);
            }
            _ => return None,
        }
    }
}

/// A JSON object with its keys in text order (serde_json's map would sort them).
struct OrderedObject(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    fields.push((k, v));
                }
                Ok(OrderedObject(fields))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

fn json_object(text: &str, column: &str) -> Result<Vec<(String, Value)>, TrinoError> {
    serde_json::from_str::<OrderedObject>(text)
        .map(|o| o.0)
        .map_err(|e| {
            TrinoError::user(
                0,
                "GENERIC_USER_ERROR",
                format!("Column '{column}' must hold JSON objects for the map/row convention: {e}"),
            )
        })
}

fn json_text(v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// Row fields from the first non-null object; each field's type from its first non-null value.
fn infer_row_fields(objects: &[Option<Vec<(String, Value)>>]) -> Vec<(String, TrinoType)> {
    let Some(first) = objects.iter().flatten().next() else {
        return vec![("value".to_string(), TrinoType::Varchar(None))];
    };
    first
        .iter()
        .map(|(name, _)| {
            let ty = objects
                .iter()
                .flatten()
                .filter_map(|o| o.iter().find(|(k, _)| k == name).map(|(_, v)| v))
                .find(|v| !v.is_null())
                .map_or(TrinoType::Varchar(None), |v| match v {
                    Value::Bool(_) => TrinoType::Boolean,
                    Value::Number(n) if n.is_i64() || n.is_u64() => TrinoType::Bigint,
                    Value::Number(_) => TrinoType::Double,
                    Value::String(_) => TrinoType::Varchar(None),
                    _ => TrinoType::Json,
                });
            (name.clone(), ty)
        })
        .collect()
}

fn row_value(fields: &[(String, TrinoType)], object: &[(String, Value)]) -> Value {
    Value::Array(
        fields
            .iter()
            .map(|(name, ty)| {
                let v = object
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or(Value::Null, |(_, v)| v.clone());
                match (ty, v) {
                    (_, Value::Null) => Value::Null,
                    (TrinoType::Json, v) => Value::String(v.to_string()),
                    (TrinoType::Varchar(_), v) => json_text(&v),
                    (_, v) => v,
                }
            })
            .collect(),
    )
}

// ---------------------------------------------------------------------------------------------
// Running statements on Postgres

async fn run_statement(
    shared: &Arc<Shared>,
    sql: &Translated,
    session: &SessionCtx,
    cancel: &AtomicBool,
    pid: &Mutex<Option<i32>>,
) -> Outcome {
    let catalog = shared.options.catalog.as_str();
    // Trino takes exactly one statement, without a terminating semicolon.
    if let Some(semicolon) = tokenize(&sql.sql).iter().find(|t| t.is_sym(';')) {
        let (line, column) = sql.location(semicolon.start + 1);
        return failed(TrinoError {
            location: Some((line, column)),
            exception: "io.trino.sql.parser.ParsingException",
            ..TrinoError::user(
                1,
                "SYNTAX_ERROR",
                format!("line {line}:{column}: mismatched input ';'. Expecting: <EOF>"),
            )
        });
    }
    match classify(&sql.sql) {
        Some(Special::StartTransaction) => start_transaction(shared, sql, session).await,
        Some(Special::Commit) => end_transaction(shared, session, "COMMIT").await,
        Some(Special::Rollback) => end_transaction(shared, session, "ROLLBACK").await,
        Some(Special::SetSession { name, value }) => {
            let value = value.trim_matches('\'').to_string();
            let header = format!("{name}={}", percent_encode(&value));
            Outcome::Done(Arc::new(
                Done::update("SET SESSION", None).with_header("X-Trino-Set-Session", header),
            ))
        }
        Some(Special::ResetSession { name }) => Outcome::Done(Arc::new(
            Done::update("RESET SESSION", None).with_header("X-Trino-Clear-Session", name),
        )),
        Some(Special::Use {
            catalog: cat,
            schema,
        }) => {
            let mut done = Done::update("USE", None);
            if let Some(cat) = cat {
                done = done.with_header("X-Trino-Set-Catalog", cat);
            }
            Outcome::Done(Arc::new(done.with_header("X-Trino-Set-Schema", schema)))
        }
        Some(Special::ShowCatalogs { like }) => {
            let mut names = vec![catalog.to_string(), "system".to_string()];
            names.retain(|n| like.as_deref().is_none_or(|p| like_match(p, n)));
            names.sort();
            let rows = names.into_iter().map(|n| vec![Some(n)]).collect();
            Outcome::Done(Arc::new(Done::varchar_table(&["Catalog"], rows)))
        }
        Some(special) => {
            let show = show_query(&special, session, catalog);
            match show {
                Ok(show) => run_pg(shared, sql, session, cancel, pid, Some(show)).await,
                Err(e) => failed(e),
            }
        }
        None => run_pg(shared, sql, session, cancel, pid, None).await,
    }
}

/// `SHOW SCHEMAS/TABLES/COLUMNS` as a catalog query, and how to shape its answer.
struct ShowQuery {
    sql: String,
    binds: Vec<String>,
    /// Output column names; the catalog query returns them as text, except `SHOW COLUMNS`.
    columns: &'static [&'static str],
    describe: bool,
    /// For TABLE_NOT_FOUND when `SHOW COLUMNS` finds nothing.
    table: Option<String>,
}

fn show_query(
    special: &Special,
    session: &SessionCtx,
    catalog: &str,
) -> Result<ShowQuery, TrinoError> {
    let strip = |mut parts: Vec<String>, max: usize| -> Vec<String> {
        if parts.len() == max
            && parts
                .first()
                .is_some_and(|c| c.eq_ignore_ascii_case(catalog))
        {
            parts.remove(0);
        }
        parts
    };
    let missing_schema = || {
        TrinoError::user(
            57,
            "MISSING_SCHEMA_NAME",
            "Schema must be specified when session schema is not set".into(),
        )
    };
    match special {
        Special::ShowSchemas { like } => Ok(ShowQuery {
            sql: "SELECT nspname::text FROM pg_catalog.pg_namespace \
                  WHERE nspname !~ '^pg_' AND ($1::text IS NULL OR nspname LIKE $1) ORDER BY 1"
                .into(),
            binds: like.iter().cloned().collect(),
            columns: &["Schema"],
            describe: false,
            table: None,
        })
        .map(|mut q| {
            if q.binds.is_empty() {
                q.sql = q.sql.replace("$1::text IS NULL OR nspname LIKE $1", "true");
            }
            q
        }),
        Special::ShowTables { schema, like } => {
            let schema = match schema {
                Some(parts) => strip(parts.clone(), 2).pop().ok_or_else(missing_schema)?,
                None => session.schema.clone().ok_or_else(missing_schema)?,
            };
            let mut binds = vec![schema];
            let mut sql = "SELECT c.relname::text FROM pg_catalog.pg_class c \
                           JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                           WHERE n.nspname = $1 AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
                .to_string();
            if let Some(like) = like {
                binds.push(like.clone());
                sql.push_str(" AND c.relname LIKE $2");
            }
            sql.push_str(" ORDER BY 1");
            Ok(ShowQuery {
                sql,
                binds,
                columns: &["Table"],
                describe: false,
                table: None,
            })
        }
        Special::ShowColumns { name } => {
            let mut parts = strip(name.clone(), 3);
            let table = parts.pop().unwrap_or_default();
            let schema = match parts.pop() {
                Some(s) => s,
                None => session.schema.clone().ok_or_else(missing_schema)?,
            };
            Ok(ShowQuery {
                sql: "SELECT a.attname::text, a.atttypid::int8, a.atttypmod::int8, \
                      coalesce(pg_catalog.col_description(c.oid, a.attnum), '') \
                      FROM pg_catalog.pg_attribute a \
                      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
                      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                      WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped \
                      ORDER BY a.attnum"
                    .into(),
                binds: vec![schema.clone(), table.clone()],
                columns: &["Column", "Type", "Extra", "Comment"],
                describe: true,
                table: Some(format!("{catalog}.{schema}.{table}")),
            })
        }
        _ => Err(TrinoError::internal("not a SHOW statement".into())),
    }
}

async fn run_show(conn: &mut PgConnection, show: &ShowQuery) -> Result<Done, sqlx::Error> {
    let mut query = sqlx::query(AssertSqlSafe(show.sql.clone()));
    for b in &show.binds {
        query = query.bind(b.clone());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    if !show.describe {
        let rows = rows
            .iter()
            .map(|r| vec![r.try_get::<Option<String>, _>(0).ok().flatten()])
            .collect();
        return Ok(Done::varchar_table(show.columns, rows));
    }
    let mut out = Vec::new();
    for r in &rows {
        let name: String = r.try_get(0)?;
        let oid: i64 = r.try_get(1)?;
        let typmod: i64 = r.try_get(2)?;
        let comment: String = r.try_get(3)?;
        let kind = resolve_kind(
            conn,
            u32::try_from(oid).unwrap_or(25),
            i32::try_from(typmod).unwrap_or(-1),
        )
        .await;
        let ty = trino_type_of(&kind, 0);
        out.push(vec![
            Some(name),
            Some(ty.display_name()),
            Some(String::new()),
            Some(comment),
        ]);
    }
    Ok(Done::varchar_table(show.columns, out))
}

fn like_match(pattern: &str, s: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..])),
            Some(('_', rest)) => !s.is_empty() && go(rest, &s[1..]),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    go(&p, &s)
}

async fn start_transaction(
    shared: &Arc<Shared>,
    sql: &Translated,
    session: &SessionCtx,
) -> Outcome {
    if session.transaction_id.is_some() {
        return failed(TrinoError::user(
            13,
            "NOT_SUPPORTED",
            "Nested transactions not supported".into(),
        ));
    }
    let mut conn = match shared.pool.acquire().await {
        Ok(c) => c,
        Err(e) => return failed(TrinoError::internal(format!("Postgres: {e}"))),
    };
    let statement = sql.sql.trim().trim_end_matches(';').to_string();
    if let Err(e) = sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(&mut *conn)
        .await
    {
        return failed(map_sqlx_error(&e, sql, session, &shared.options.catalog));
    }
    let pid = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .ok();
    let b = random_hex(16);
    let id = format!(
        "{}-{}-{}-{}-{}",
        &b[0..8],
        &b[8..12],
        &b[12..16],
        &b[16..20],
        &b[20..32]
    );
    lock(&shared.transactions).insert(
        id.clone(),
        Arc::new(tokio::sync::Mutex::new(Transaction { conn, pid })),
    );
    Outcome::Done(Arc::new(
        Done::update("START TRANSACTION", None).with_header("X-Trino-Started-Transaction-Id", id),
    ))
}

async fn end_transaction(
    shared: &Arc<Shared>,
    session: &SessionCtx,
    verb: &'static str,
) -> Outcome {
    let Some(id) = &session.transaction_id else {
        return failed(TrinoError::user(
            21,
            "NOT_IN_TRANSACTION",
            "No transaction in progress".into(),
        ));
    };
    let txn = lock(&shared.transactions).remove(id);
    let Some(txn) = txn else {
        return failed(unknown_transaction(id));
    };
    let mut txn = txn.lock().await;
    if let Err(e) = sqlx::raw_sql(verb).execute(&mut *txn.conn).await {
        return failed(TrinoError::internal(format!("Postgres {verb}: {e}")));
    }
    Outcome::Done(Arc::new(
        Done::update(verb, None).with_header("X-Trino-Clear-Transaction-Id", "true".into()),
    ))
}

fn unknown_transaction(id: &str) -> TrinoError {
    TrinoError::user(
        20,
        "UNKNOWN_TRANSACTION",
        format!(
            "Unknown transaction ID: {id}. Possibly expired? Commands ignored until end of transaction block"
        ),
    )
}

async fn run_pg(
    shared: &Arc<Shared>,
    sql: &Translated,
    session: &SessionCtx,
    cancel: &AtomicBool,
    pid: &Mutex<Option<i32>>,
    show: Option<ShowQuery>,
) -> Outcome {
    let catalog = &shared.options.catalog;
    let to_outcome = |r: Result<Done, StatementError>| match r {
        Ok(done) => Outcome::Done(Arc::new(done)),
        Err(StatementError::Sql(e)) => failed(map_sqlx_error(&e, sql, session, catalog)),
        Err(StatementError::Trino(e)) => failed(e),
    };
    if let Some(id) = &session.transaction_id {
        let txn = lock(&shared.transactions).get(id).cloned();
        let Some(txn) = txn else {
            return failed(unknown_transaction(id));
        };
        let mut txn = txn.lock().await;
        *lock(pid) = txn.pid;
        if cancel.load(Ordering::SeqCst) {
            return failed(TrinoError::canceled());
        }
        let result = execute(&mut txn.conn, sql, session, show.as_ref()).await;
        return to_outcome(result);
    }
    let mut conn = match shared.pool.acquire().await {
        Ok(c) => c,
        Err(e) => return failed(TrinoError::internal(format!("Postgres: {e}"))),
    };
    *lock(pid) = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .ok();
    if cancel.load(Ordering::SeqCst) {
        return failed(TrinoError::canceled());
    }
    if let Err(e) = sqlx::raw_sql("BEGIN").execute(&mut *conn).await {
        return failed(TrinoError::internal(format!("Postgres BEGIN: {e}")));
    }
    let result = execute(&mut conn, sql, session, show.as_ref()).await;
    let commit = result.is_ok() && !cancel.load(Ordering::SeqCst);
    let end = sqlx::raw_sql(if commit { "COMMIT" } else { "ROLLBACK" })
        .execute(&mut *conn)
        .await;
    if end.is_err() {
        conn.close_on_drop();
    }
    match (result, end) {
        (Ok(_), _) if !commit => failed(TrinoError::canceled()),
        (Ok(_), Err(e)) if commit => to_outcome(Err(StatementError::Sql(e))),
        (result, _) => to_outcome(result),
    }
}

enum StatementError {
    Sql(sqlx::Error),
    Trino(TrinoError),
}

impl From<sqlx::Error> for StatementError {
    fn from(e: sqlx::Error) -> Self {
        StatementError::Sql(e)
    }
}

/// Runs one statement inside the connection's open transaction.
async fn execute(
    conn: &mut PgConnection,
    sql: &Translated,
    session: &SessionCtx,
    show: Option<&ShowQuery>,
) -> Result<Done, StatementError> {
    if let Some(schema) = &session.schema {
        sqlx::query(
            "SELECT pg_catalog.set_config('search_path', pg_catalog.quote_ident($1), true)",
        )
        .bind(schema)
        .execute(&mut *conn)
        .await?;
    }
    if let Some(show) = show {
        let done = run_show(conn, show).await?;
        if let (true, true, Some(table)) = (show.describe, done.rows.is_empty(), &show.table) {
            return Err(StatementError::Trino(TrinoError::user(
                46,
                "TABLE_NOT_FOUND",
                format!("line 1:1: Table '{table}' does not exist"),
            )));
        }
        return Ok(done);
    }
    let statement = conn
        .prepare(AssertSqlSafe(sql.sql.clone()).into_sql_str())
        .await?;
    let pg_columns: Vec<PgCol> = statement
        .columns()
        .iter()
        .map(|c| PgCol {
            name: c.name().to_string(),
            oid: c.type_info().oid().map(|o| o.0),
            relation: c.relation_id().map(|o| o.0),
            attno: c.relation_attribute_no(),
        })
        .collect();
    drop(statement);
    if pg_columns.is_empty() {
        let result = sqlx::raw_sql(AssertSqlSafe(sql.sql.clone()))
            .execute(&mut *conn)
            .await?;
        let (kind, counted) = update_type(&sql.sql);
        return Ok(Done::update(&kind, counted.then(|| result.rows_affected())));
    }
    let metas = column_types(conn, &sql.sql, &pg_columns).await;
    let mut kinds = Vec::with_capacity(metas.len());
    for (oid, typmod) in &metas {
        kinds.push(resolve_kind(conn, *oid, *typmod).await);
    }
    let rows = sqlx::raw_sql(AssertSqlSafe(sql.sql.clone()))
        .fetch_all(&mut *conn)
        .await?;
    let mut texts: Vec<Vec<Option<String>>> = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut values = Vec::with_capacity(kinds.len());
        for i in 0..kinds.len() {
            let value = row.try_get_raw(i)?;
            values.push(if sqlx::ValueRef::is_null(&value) {
                None
            } else {
                Some(value.as_str().map_err(sqlx::Error::Decode)?.to_string())
            });
        }
        texts.push(values);
    }
    encode_result(&pg_columns, &kinds, &texts, session.parametric_datetime)
        .map_err(StatementError::Trino)
}

/// A result column as Postgres describes it.
struct PgCol {
    name: String,
    oid: Option<u32>,
    /// Source table and column, when the column is a plain table column.
    relation: Option<u32>,
    attno: Option<i16>,
}

/// (type oid, typmod) of each result column. Postgres sends typmods in the row description
/// but sqlx does not expose them, so they are read back from a temporary view over the query
/// (or, where a view cannot be made, e.g. in a read-only transaction, from the source table).
async fn column_types(conn: &mut PgConnection, sql: &str, columns: &[PgCol]) -> Vec<(u32, i32)> {
    let mut metas: Vec<(u32, i32)> = columns.iter().map(|c| (c.oid.unwrap_or(25), -1)).collect();
    let body = sql.trim().trim_end_matches(';');
    let view = format!("trino_probe_{}", random_hex(8));
    let names = (1..=columns.len())
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut probed = false;
    if sqlx::raw_sql("SAVEPOINT trino_probe")
        .execute(&mut *conn)
        .await
        .is_ok()
    {
        let create = format!("CREATE TEMP VIEW {view} ({names}) AS {body}\n");
        if sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut *conn)
            .await
            .is_ok()
        {
            let found: Result<Vec<(i16, i64, i32)>, _> = sqlx::query_as(AssertSqlSafe(format!(
                "SELECT attnum, atttypid::int8, atttypmod FROM pg_catalog.pg_attribute \
                 WHERE attrelid = '{view}'::regclass AND attnum > 0 ORDER BY attnum"
            )))
            .fetch_all(&mut *conn)
            .await;
            if let Ok(found) = found
                && found.len() == metas.len()
            {
                for (slot, (_, oid, typmod)) in metas.iter_mut().zip(found) {
                    *slot = (u32::try_from(oid).unwrap_or(25), typmod);
                }
                probed = true;
            }
        }
        let _ = sqlx::raw_sql("ROLLBACK TO SAVEPOINT trino_probe; RELEASE SAVEPOINT trino_probe")
            .execute(&mut *conn)
            .await;
    }
    if !probed {
        for (slot, column) in metas.iter_mut().zip(columns) {
            if let (Some(relation), Some(attno)) = (column.relation, column.attno) {
                let found: Option<(i64, i32)> = sqlx::query_as(
                    "SELECT atttypid::int8, atttypmod FROM pg_catalog.pg_attribute \
                     WHERE attrelid = ($1::int8)::oid AND attnum = $2",
                )
                .bind(i64::from(relation))
                .bind(attno)
                .fetch_optional(&mut *conn)
                .await
                .ok()
                .flatten();
                if let Some((oid, typmod)) = found {
                    *slot = (u32::try_from(oid).unwrap_or(slot.0), typmod);
                }
            }
        }
    }
    metas
}

/// Turns Postgres text values into Trino columns and JSON rows.
fn encode_result(
    pg_columns: &[PgCol],
    kinds: &[PgKind],
    texts: &[Vec<Option<String>>],
    parametric: bool,
) -> Result<Done, TrinoError> {
    let mut columns = Vec::with_capacity(kinds.len());
    let mut encoders = Vec::with_capacity(kinds.len());
    for (i, (PgCol { name, .. }, kind)) in pg_columns.iter().zip(kinds).enumerate() {
        let jsonish = matches!(kind, PgKind::Json | PgKind::Text(_));
        let column_values = || texts.iter().map(move |r| r.get(i).cloned().flatten());
        if let (Some(base), true) = (name.strip_suffix("__map"), jsonish) {
            for text in column_values().flatten() {
                json_object(&text, name)?;
            }
            columns.push(OutColumn {
                name: base.to_string(),
                ty: TrinoType::Map(
                    Box::new(TrinoType::Varchar(None)),
                    Box::new(TrinoType::Varchar(None)),
                ),
            });
            encoders.push(Encoder::Map);
            continue;
        }
        if let (Some(base), true) = (name.strip_suffix("__row"), jsonish) {
            let objects = column_values()
                .map(|t| t.map(|t| json_object(&t, name)).transpose())
                .collect::<Result<Vec<_>, _>>()?;
            let fields = infer_row_fields(&objects);
            columns.push(OutColumn {
                name: base.to_string(),
                ty: TrinoType::Row(fields.clone()),
            });
            encoders.push(Encoder::Row(fields));
            continue;
        }
        let scale = column_values()
            .flatten()
            .map(|t| numeric_scale(kind, &t))
            .max()
            .unwrap_or(0);
        let name = if name == "?column?" {
            format!("_col{i}")
        } else {
            name.clone()
        };
        columns.push(OutColumn {
            name,
            ty: trino_type_of(kind, scale),
        });
        encoders.push(Encoder::Plain(kind.clone()));
    }
    let mut rows = Vec::with_capacity(texts.len());
    for text_row in texts {
        let mut row = Vec::with_capacity(encoders.len());
        for (i, encoder) in encoders.iter().enumerate() {
            let Some(text) = text_row.get(i).cloned().flatten() else {
                row.push(Value::Null);
                continue;
            };
            let value = match encoder {
                Encoder::Plain(kind) => encode_value(kind, &columns[i].ty, &text, parametric)
                    .map_err(|e| {
                        TrinoError::internal(format!("Column '{}': {e}", columns[i].name))
                    })?,
                Encoder::Map => Value::Object(
                    json_object(&text, &columns[i].name)?
                        .iter()
                        .map(|(k, v)| (k.clone(), json_text(v)))
                        .collect(),
                ),
                Encoder::Row(fields) => row_value(fields, &json_object(&text, &columns[i].name)?),
            };
            row.push(value);
        }
        rows.push(row);
    }
    Ok(Done {
        columns,
        rows,
        update_type: None,
        update_count: None,
        headers: Vec::new(),
    })
}
