//! The tamper-evident audit ledger: every tool call and approval step, secrets redacted, appended
//! to `steward.audit_ledger` as a SHA-256 hash chain that `verify` re-walks row by row, so an
//! edited, deleted or reordered row is reported (by seq) instead of silently trusted.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::canonical::canonical_json;

/// `prev_hash` of row 1.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Advisory lock key serialising appends ("STWAUDIT"), so two appends never fork the chain.
const APPEND_LOCK: i64 = 0x5354_5741_5544_4954;

/// Rows per round trip in `verify`: memory stays flat however long the ledger grows.
const VERIFY_PAGE: i64 = 1000;

const REDACTED: &str = "[REDACTED]";

/// Object keys whose values are never stored, matched as substrings of the key lower-cased with
/// `_` and `-` removed (so `api_key`, `apiKey`, `X-Api-Key` and `PRIVATE_KEY` all match).
const SECRET_KEYS: [&str; 8] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "credential",
    "privatekey",
];

/// Columns as hashed and returned. `recorded_at` is rendered by Postgres, in UTC with
/// microseconds, and JSON comes as jsonb's text, so append and verify hash the very same text.
macro_rules! columns {
    () => {
        "seq, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS recorded_at, \
         event, principal, principal_kind, on_behalf_of, channel, tool, arguments::text AS arguments, \
         action::text AS action, decision::text AS decision, approval_id, outcome, error, duration_ms, \
         prev_hash, hash"
    };
}

/// One thing that happened, as the caller describes it. `arguments`, `action`, `decision` and
/// `error` are raw here: `append` redacts them before anything is stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditEvent {
    pub event: String,
    pub principal: String,
    pub principal_kind: String,
    pub on_behalf_of: Option<String>,
    pub channel: String,
    pub tool: String,
    pub arguments: Value,
    pub action: Option<Value>,
    pub decision: Option<Value>,
    pub approval_id: Option<String>,
    pub outcome: String,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// A stored ledger row (redacted), with its place in the chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditRow {
    pub seq: i64,
    pub recorded_at: String,
    #[serde(flatten)]
    pub event: AuditEvent,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    Intact {
        rows: i64,
    },
    /// The first row that does not check out, and why.
    Broken {
        seq: i64,
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit ledger: {0}")]
    Database(String),
}

impl From<sqlx::Error> for AuditError {
    fn from(e: sqlx::Error) -> Self {
        // The server's own message: sqlx's Display adds " at line N", a line of Postgres's C
        // source, which reads like a line of ours.
        match e {
            sqlx::Error::Database(db) => AuditError::Database(db.message().to_string()),
            other => AuditError::Database(other.to_string()),
        }
    }
}

#[derive(Clone)]
pub struct AuditLedger {
    pool: PgPool,
}

#[derive(sqlx::FromRow)]
struct LedgerRow {
    seq: i64,
    recorded_at: String,
    event: String,
    principal: String,
    principal_kind: String,
    on_behalf_of: Option<String>,
    channel: String,
    tool: String,
    arguments: String,
    action: Option<String>,
    decision: Option<String>,
    approval_id: Option<String>,
    outcome: String,
    error: Option<String>,
    duration_ms: i64,
    prev_hash: String,
    hash: String,
}

impl TryFrom<LedgerRow> for AuditRow {
    /// Which JSON column could not be read, and why.
    type Error = String;

    fn try_from(r: LedgerRow) -> Result<Self, String> {
        let json = |column: &str, text: &str| {
            parse_json(text).map_err(|e| format!("{column} is not readable JSON ({e})"))
        };
        let arguments = json("arguments", &r.arguments)?;
        let action = r.action.map(|t| json("action", &t)).transpose()?;
        let decision = r.decision.map(|t| json("decision", &t)).transpose()?;
        Ok(AuditRow {
            seq: r.seq,
            recorded_at: r.recorded_at,
            event: AuditEvent {
                event: r.event,
                principal: r.principal,
                principal_kind: r.principal_kind,
                on_behalf_of: r.on_behalf_of,
                channel: r.channel,
                tool: r.tool,
                arguments,
                action,
                decision,
                approval_id: r.approval_id,
                outcome: r.outcome,
                error: r.error,
                duration_ms: r.duration_ms,
            },
            prev_hash: r.prev_hash,
            hash: r.hash,
        })
    }
}

/// The one way JSON read from the ledger becomes a `Value`, at append and at verify alike, so
/// serde_json's (deterministic, not always correctly rounded) float parsing hashes the same.
fn parse_json(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

impl AuditLedger {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Redacts the event, chains it onto the current head and returns its seq.
    pub async fn append(&self, event: AuditEvent) -> Result<i64, AuditError> {
        let event = prepare(event);
        // READ COMMITTED whatever the server default: each statement after the lock must see
        // the head the previous holder committed (a REPEATABLE READ snapshot would predate it).
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(APPEND_LOCK)
            .execute(&mut *tx)
            .await?;
        // The JSON goes through jsonb before it is hashed: jsonb normalises numbers and keys,
        // and verify hashes what jsonb gives back. So append stores jsonb's text verbatim and
        // hashes that text parsed, exactly as verify will.
        let (head_seq, head_hash, recorded_at, arguments_text, action_text, decision_text): (
            Option<i64>,
            Option<String>,
            String,
            String,
            Option<String>,
            Option<String>,
        ) = sqlx::query_as(
            "SELECT h.seq, h.hash,
                    to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                    $1::jsonb::text, $2::jsonb::text, $3::jsonb::text
             FROM (SELECT 1) AS one
             LEFT JOIN LATERAL (
                 SELECT seq, hash FROM steward.audit_ledger ORDER BY seq DESC LIMIT 1
             ) AS h ON true",
        )
        .bind(&event.arguments)
        .bind(&event.action)
        .bind(&event.decision)
        .fetch_one(&mut *tx)
        .await?;
        let unreadable = |e: serde_json::Error| {
            AuditError::Database(format!("jsonb gave back unreadable JSON: {e}"))
        };
        let event = AuditEvent {
            arguments: parse_json(&arguments_text).map_err(unreadable)?,
            action: action_text
                .as_deref()
                .map(parse_json)
                .transpose()
                .map_err(unreadable)?,
            decision: decision_text
                .as_deref()
                .map(parse_json)
                .transpose()
                .map_err(unreadable)?,
            ..event
        };
        let seq = head_seq.unwrap_or(0) + 1;
        let prev_hash = head_hash.unwrap_or_else(|| GENESIS_HASH.to_string());
        let hash = chain_hash(&prev_hash, seq, &recorded_at, &event);
        sqlx::query(
            "INSERT INTO steward.audit_ledger
               (seq, recorded_at, event, principal, principal_kind, on_behalf_of, channel, tool,
                arguments, action, decision, approval_id, outcome, error, duration_ms,
                prev_hash, hash)
             VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb,
                     $11::jsonb, $12, $13, $14, $15, $16, $17)",
        )
        .bind(seq)
        .bind(&recorded_at)
        .bind(&event.event)
        .bind(&event.principal)
        .bind(&event.principal_kind)
        .bind(&event.on_behalf_of)
        .bind(&event.channel)
        .bind(&event.tool)
        .bind(&arguments_text)
        .bind(&action_text)
        .bind(&decision_text)
        .bind(&event.approval_id)
        .bind(&event.outcome)
        .bind(&event.error)
        .bind(event.duration_ms)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Re-walks the chain from seq 1 in pages and reports the first row that does not check
    /// out. Deleting rows from the end cannot be seen from inside the chain: compare the head
    /// (`tail(1)`) with a copy kept elsewhere for that.
    pub async fn verify(&self) -> Result<Verification, AuditError> {
        let mut expected: i64 = 1;
        let mut prev_hash = GENESIS_HASH.to_string();
        loop {
            let page: Vec<LedgerRow> = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM steward.audit_ledger WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .bind(expected - 1)
            .bind(VERIFY_PAGE)
            .fetch_all(&self.pool)
            .await?;
            let full = i64::try_from(page.len()).unwrap_or(i64::MAX) == VERIFY_PAGE;
            for row in page {
                let seq = row.seq;
                let row = match AuditRow::try_from(row) {
                    Ok(row) => row,
                    Err(reason) => return Ok(Verification::Broken { seq, reason }),
                };
                if let Some(reason) = check(&row, expected, &prev_hash) {
                    return Ok(Verification::Broken {
                        seq: row.seq,
                        reason,
                    });
                }
                prev_hash = row.hash;
                expected += 1;
            }
            if !full {
                return Ok(Verification::Intact { rows: expected - 1 });
            }
        }
    }

    /// The newest `limit` rows, oldest first.
    pub async fn tail(&self, limit: i64) -> Result<Vec<AuditRow>, AuditError> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<LedgerRow> = sqlx::query_as(concat!(
            "SELECT * FROM (SELECT ",
            columns!(),
            " FROM steward.audit_ledger ORDER BY seq DESC LIMIT $1) AS newest ORDER BY seq"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let seq = row.seq;
                AuditRow::try_from(row)
                    .map_err(|reason| AuditError::Database(format!("row {seq}: {reason}")))
            })
            .collect()
    }
}

/// Why `row` breaks the chain, if it does. Checks run in the order that names the cause:
/// a missing row first, then a broken link, then changed content.
fn check(row: &AuditRow, expected: i64, prev_hash: &str) -> Option<String> {
    if row.seq > expected {
        return Some(format!(
            "sequence gap: expected {expected}, found {} (row deleted)",
            row.seq
        ));
    }
    if row.seq != expected {
        return Some(format!(
            "sequence out of order: expected {expected}, found {}",
            row.seq
        ));
    }
    if row.prev_hash != prev_hash {
        return Some(if expected == 1 {
            "prev_hash is not the genesis hash".to_string()
        } else {
            format!("prev_hash does not match row {}", expected - 1)
        });
    }
    if chain_hash(&row.prev_hash, row.seq, &row.recorded_at, &row.event) != row.hash {
        return Some("hash mismatch (row changed)".to_string());
    }
    None
}

impl AuditRow {
    /// One line for `steward audit tail`.
    pub fn line(&self) -> String {
        let e = &self.event;
        let who = match (e.principal_kind.as_str(), &e.on_behalf_of) {
            ("agent", Some(human)) => format!("{} (agent for {human})", e.principal),
            ("agent", None) => format!("{} (agent)", e.principal),
            (_, Some(other)) => format!("{} (for {other})", e.principal),
            (_, None) => e.principal.clone(),
        };
        // A vote that failed before its request was found has no tool.
        let tool = if e.tool.is_empty() { "-" } else { &e.tool };
        let mut line = format!(
            "#{} {} {who} {} {tool} {} {} {}ms",
            self.seq, self.recorded_at, e.channel, e.event, e.outcome, e.duration_ms
        );
        if let Some(id) = &e.approval_id {
            line.push_str(" approval=");
            line.push_str(id);
        }
        if let Some(error) = &e.error {
            line.push_str(&format!(" error={:?}", shorten(error, 120)));
        }
        line.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// hex(SHA-256(prev_hash "\n" canonical_json(row without prev_hash and hash))).
fn chain_hash(prev_hash: &str, seq: i64, recorded_at: &str, e: &AuditEvent) -> String {
    let mut row = Map::new();
    row.insert("seq".into(), seq.into());
    row.insert("recorded_at".into(), recorded_at.into());
    row.insert("event".into(), e.event.as_str().into());
    row.insert("principal".into(), e.principal.as_str().into());
    row.insert("principal_kind".into(), e.principal_kind.as_str().into());
    row.insert("on_behalf_of".into(), e.on_behalf_of.clone().into());
    row.insert("channel".into(), e.channel.as_str().into());
    row.insert("tool".into(), e.tool.as_str().into());
    row.insert("arguments".into(), e.arguments.clone());
    row.insert("action".into(), e.action.clone().into());
    row.insert("decision".into(), e.decision.clone().into());
    row.insert("approval_id".into(), e.approval_id.clone().into());
    row.insert("outcome".into(), e.outcome.as_str().into());
    row.insert("error".into(), e.error.clone().into());
    row.insert("duration_ms".into(), e.duration_ms.into());
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_json(&Value::Object(row)).as_bytes());
    hex::encode(hasher.finalize())
}

/// What is stored for an event: NUL replaced (Postgres text and jsonb cannot hold it), huge
/// floats made strings, secrets redacted, and a JSON `null` action/decision stored as SQL NULL
/// (both would hash the same).
fn prepare(e: AuditEvent) -> AuditEvent {
    let json = |v: Value| redact(&storable_json(v));
    AuditEvent {
        event: without_nul(e.event),
        principal: without_nul(e.principal),
        principal_kind: without_nul(e.principal_kind),
        on_behalf_of: e.on_behalf_of.map(without_nul),
        channel: without_nul(e.channel),
        tool: without_nul(e.tool),
        arguments: json(e.arguments),
        action: e.action.filter(|v| !v.is_null()).map(json),
        decision: e.decision.filter(|v| !v.is_null()).map(json),
        approval_id: e.approval_id.map(without_nul),
        outcome: without_nul(e.outcome),
        error: e.error.map(|t| redact_text(&without_nul(t))),
        duration_ms: e.duration_ms,
    }
}

fn without_nul(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

/// JSON Postgres can store and serde_json can read back: no NUL, and floats beyond ±1e300
/// as strings (jsonb prints them as 300-digit integers, which serde_json's default parser can
/// round past f64::MAX and then refuse as "number out of range").
fn storable_json(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(without_nul(s)),
        Value::Number(n) if n.is_f64() && n.as_f64().is_some_and(|f| f.abs() >= HUGE_FLOAT) => {
            Value::String(n.to_string())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(storable_json).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (without_nul(k), storable_json(v)))
                .collect(),
        ),
        other => other,
    }
}

const HUGE_FLOAT: f64 = 1e300;

/// A copy of `value` safe to store: values under secret-looking keys become "[REDACTED]", and
/// every string loses Steward tokens (`stw_…`), bearer tokens and passwords in connection URLs
/// and `password=` parameters. A string that is itself a token becomes "[REDACTED]".
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| {
                    let item = if is_secret_key(key) {
                        Value::String(REDACTED.to_string())
                    } else {
                        redact(item)
                    };
                    (key.clone(), item)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) => Value::String(redact_text(s)),
        other => other.clone(),
    }
}

fn is_secret_key(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    SECRET_KEYS.iter().any(|secret| key.contains(secret))
}

/// Redaction for free text (string values, error messages).
fn redact_text(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("stw_") || lower.starts_with("bearer ") {
        return REDACTED.to_string();
    }
    let text = replace_after(text, "stw_", Keep::Nothing, is_token_byte);
    let text = replace_after(&text, "bearer ", Keep::Needle, is_bearer_byte);
    let text = replace_after(&text, "password=", Keep::Needle, is_param_byte);
    let text = replace_after(&text, "passwd=", Keep::Needle, is_param_byte);
    let text = redact_sql_password_literals(&text);
    redact_url_passwords(&text)
}

/// SQL password literals: `PASSWORD 'x'`, `OPTIONS (password 'x')` -> `PASSWORD '[REDACTED]'`.
fn redact_sql_password_literals(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower.get(from..).and_then(|rest| rest.find("password")) {
        let mut at = from + found + "password".len();
        while bytes.get(at).is_some_and(|b| b.is_ascii_whitespace()) {
            at += 1;
        }
        let Some(&quote @ (b'\'' | b'"')) = bytes.get(at) else {
            from = at.max(from + found + 1);
            continue;
        };
        // The literal runs to the closing quote; a doubled quote is an escaped one.
        let mut end = at + 1;
        while end < bytes.len() {
            if bytes[end] == quote {
                if bytes.get(end + 1) == Some(&quote) {
                    end += 2;
                    continue;
                }
                break;
            }
            end += 1;
        }
        out.push_str(&text[copied..=at]);
        out.push_str(REDACTED);
        copied = end.min(bytes.len());
        from = copied;
    }
    out.push_str(&text[copied..]);
    out
}

#[derive(Clone, Copy, PartialEq)]
enum Keep {
    /// Replace needle and value: `stw_abc` -> `[REDACTED]`.
    Nothing,
    /// Replace only the value: `Bearer abc` -> `Bearer [REDACTED]`.
    Needle,
}

/// Replaces the run of `value_byte` bytes after each case-insensitive `needle` that starts a
/// word. A value in quotes (`password='a b'`) runs to the closing quote.
fn replace_after(text: &str, needle: &str, keep: Keep, value_byte: fn(u8) -> bool) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = lower.get(from..).and_then(|rest| rest.find(needle)) {
        let start = from + found;
        let value_start = start + needle.len();
        let starts_word = start == 0 || !bytes.get(start - 1).copied().is_some_and(is_word_byte);
        let value_end = match bytes.get(value_start) {
            Some(&quote @ (b'\'' | b'"')) if keep == Keep::Needle => bytes
                .iter()
                .skip(value_start + 1)
                .position(|b| *b == quote)
                .map_or(bytes.len(), |p| value_start + 1 + p + 1),
            _ => bytes
                .iter()
                .skip(value_start)
                .position(|b| !value_byte(*b))
                .map_or(bytes.len(), |p| value_start + p),
        };
        if starts_word && value_end > value_start {
            let cut = if keep == Keep::Nothing {
                start
            } else {
                value_start
            };
            out.push_str(text.get(copied..cut).unwrap_or_default());
            out.push_str(REDACTED);
            copied = value_end;
            from = value_end;
        } else {
            from = value_start;
        }
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Everything up to whitespace or a quote; non-ASCII bytes included, so runs end on a char
/// boundary.
fn is_bearer_byte(b: u8) -> bool {
    !b.is_ascii_whitespace() && !matches!(b, b'"' | b'\'' | b'`')
}

fn is_param_byte(b: u8) -> bool {
    is_bearer_byte(b) && !matches!(b, b'&' | b';')
}

/// `scheme://user:secret@host/…` -> `scheme://user:[REDACTED]@host/…`. The password runs to
/// the last `@` of the URL, so an unencoded `@` or `/` in it is still covered.
fn redact_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut from = 0;
    while let Some(found) = text.get(from..).and_then(|rest| rest.find("://")) {
        let authority_start = from + found + 3;
        let rest = text.get(authority_start..).unwrap_or_default();
        let url_end = rest
            .bytes()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'`' | b'<' | b'>'))
            .map_or(text.len(), |p| authority_start + p);
        let url = text.get(authority_start..url_end).unwrap_or_default();
        if let (Some(at), Some(colon)) = (url.rfind('@'), url.find(':'))
            && colon + 1 < at
        {
            out.push_str(
                text.get(copied..authority_start + colon + 1)
                    .unwrap_or_default(),
            );
            out.push_str(REDACTED);
            copied = authority_start + at;
        }
        from = url_end.max(authority_start);
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    fn event() -> AuditEvent {
        AuditEvent {
            event: "tool_call".into(),
            principal: "alice".into(),
            principal_kind: "human".into(),
            on_behalf_of: None,
            channel: "mcp-stdio".into(),
            tool: "query_warehouse".into(),
            arguments: json!({}),
            action: None,
            decision: None,
            approval_id: None,
            outcome: "ok".into(),
            error: None,
            duration_ms: 12,
        }
    }

    fn row(event: AuditEvent) -> AuditRow {
        AuditRow {
            seq: 12,
            recorded_at: "2026-12-04T20:00:00.123456Z".into(),
            event,
            prev_hash: GENESIS_HASH.into(),
            hash: GENESIS_HASH.into(),
        }
    }

    #[test]
    fn redacts_secret_keys_tokens_and_url_passwords() {
        let raw = json!({
            "sql": "select 1",
            "password": "hunter2",
            "nested": {"api_key": "k", "list": [{"Authorization": "x"}, "Bearer abc", 3]},
            "url": "postgres://u:pw@h/db",
            "t": "stw_abc",
            "apiKey": {"deep": true},
            "X-Api-Key": "k2",
            "max_tokens": 100,
            "note": "use stw_0123abcd or postgresql://svc:p@ss/w@db.internal:5432/x?sslmode=require",
            "dsn": "host=db user=svc password=s3cret dbname=x",
            "quoted": "host=db password='a b' dbname=x",
            "header": "Authorization: Bearer eyJhbGciOi.x.y, retry",
            "plain": "postgres://h/db and https://example.com/a@b",
            "ident": "select * from mystw_table",
        });
        assert_eq!(
            redact(&raw),
            json!({
                "sql": "select 1",
                "password": "[REDACTED]",
                "nested": {"api_key": "[REDACTED]", "list": [{"Authorization": "[REDACTED]"}, "[REDACTED]", 3]},
                "url": "postgres://u:[REDACTED]@h/db",
                "t": "[REDACTED]",
                "apiKey": "[REDACTED]",
                "X-Api-Key": "[REDACTED]",
                "max_tokens": "[REDACTED]",
                "note": "use [REDACTED] or postgresql://svc:[REDACTED]@db.internal:5432/x?sslmode=require",
                "dsn": "host=db user=svc password=[REDACTED] dbname=x",
                "quoted": "host=db password=[REDACTED] dbname=x",
                "header": "Authorization: Bearer [REDACTED] retry",
                "plain": "postgres://h/db and https://example.com/a@b",
                "ident": "select * from mystw_table",
            })
        );
    }

    #[test]
    fn redacts_sql_password_literals() {
        let raw = json!({
            "sql": "ALTER ROLE app PASSWORD 'hunter2'; CREATE SERVER s OPTIONS (password \"it''s\")",
            "other": "CREATE USER x ENCRYPTED PASSWORD 'o''brien' VALID UNTIL 'never'",
            "prose": "password authentication failed",
        });
        assert_eq!(
            redact(&raw),
            json!({
                "sql": "ALTER ROLE app PASSWORD '[REDACTED]'; CREATE SERVER s OPTIONS (password \"[REDACTED]\")",
                "other": "CREATE USER x ENCRYPTED PASSWORD '[REDACTED]' VALID UNTIL 'never'",
                "prose": "password authentication failed",
            })
        );
    }

    #[test]
    fn redaction_is_idempotent() {
        let raw = json!({
            "a": "x stw_abc y postgres://u:pw@h/db Bearer t password=p",
            "token": "z",
        });
        let once = redact(&raw);
        assert_eq!(redact(&once), once);
        assert_eq!(
            once,
            json!({
                "a": "x [REDACTED] y postgres://u:[REDACTED]@h/db Bearer [REDACTED] password=[REDACTED]",
                "token": "[REDACTED]",
            })
        );
    }

    #[test]
    fn error_text_loses_tokens_and_passwords() {
        let table = [
            ("stw_deadbeef", "[REDACTED]"),
            (
                "connect postgres://app:hunter2@db:5432/x: refused",
                "connect postgres://app:[REDACTED]@db:5432/x: refused",
            ),
            (
                "unknown token stw_0a1b2c, try again",
                "unknown token [REDACTED], try again",
            ),
            ("no secrets here: é ü 日本", "no secrets here: é ü 日本"),
            ("bearer é日本 done", "[REDACTED]"),
            ("x bearer é日本 done", "x bearer [REDACTED] done"),
        ];
        let got: Vec<(&str, String)> = table.iter().map(|(t, _)| (*t, redact_text(t))).collect();
        let want: Vec<(&str, String)> = table.iter().map(|(t, w)| (*t, (*w).to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn prepare_redacts_error_and_strips_nul() {
        let prepared = prepare(AuditEvent {
            arguments: json!({"sql": "select 'a\u{0}b'", "k\u{0}": 1, "big": [f64::MAX, -1e300, 1e299]}),
            action: Some(Value::Null),
            decision: Some(json!({"reason": "ok", "secret": 1})),
            error: Some("failed with stw_abc".into()),
            ..event()
        });
        assert_eq!(
            prepared,
            AuditEvent {
                arguments: json!({
                    "sql": "select 'a\u{FFFD}b'",
                    "k\u{FFFD}": 1,
                    "big": ["1.7976931348623157e+308", "-1e+300", 1e299],
                }),
                action: None,
                decision: Some(json!({"reason": "ok", "secret": "[REDACTED]"})),
                error: Some("failed with [REDACTED]".into()),
                ..event()
            }
        );
    }

    #[test]
    fn chain_hash_is_stable() {
        // A fixed vector: changing the canonical form changes every stored hash.
        assert_eq!(
            chain_hash(
                GENESIS_HASH,
                1,
                "2026-12-04T20:00:00.123456Z",
                &AuditEvent {
                    arguments: json!({"sql": "select 1"}),
                    ..event()
                }
            ),
            STABLE_HASH
        );
    }

    const STABLE_HASH: &str = "1fe00ed5502ab1ac489df9b1af69eaa424d0bc1ec543c0ed8114d2c8e0822748";

    #[test]
    fn line_is_compact_and_single() {
        let table = [
            (
                event(),
                "#12 2026-12-04T20:00:00.123456Z alice mcp-stdio query_warehouse tool_call ok 12ms",
            ),
            (
                AuditEvent {
                    principal: "oncall-agent".into(),
                    principal_kind: "agent".into(),
                    on_behalf_of: Some("bob".into()),
                    tool: "execute_statement".into(),
                    event: "approval_executed".into(),
                    approval_id: Some("apr_7".into()),
                    ..event()
                },
                "#12 2026-12-04T20:00:00.123456Z oncall-agent (agent for bob) mcp-stdio execute_statement approval_executed ok 12ms approval=apr_7",
            ),
            (
                AuditEvent {
                    on_behalf_of: Some("bob".into()),
                    channel: "cli".into(),
                    tool: String::new(),
                    event: "approval_decided".into(),
                    outcome: "rejected".into(),
                    approval_id: Some("apr_7".into()),
                    ..event()
                },
                "#12 2026-12-04T20:00:00.123456Z alice (for bob) cli - approval_decided rejected 12ms approval=apr_7",
            ),
            (
                AuditEvent {
                    principal_kind: "agent".into(),
                    outcome: "failed".into(),
                    error: Some(format!("line one\nline \"two\" {}", "x".repeat(200))),
                    ..event()
                },
                &format!(
                    "#12 2026-12-04T20:00:00.123456Z alice (agent) mcp-stdio query_warehouse tool_call failed 12ms error=\"line one\\nline \\\"two\\\" {}…\"",
                    "x".repeat(120 - 20)
                ),
            ),
        ];
        let got: Vec<String> = table.iter().map(|(e, _)| row(e.clone()).line()).collect();
        let want: Vec<String> = table.iter().map(|(_, l)| (*l).to_string()).collect();
        assert_eq!(got, want);
    }
}
