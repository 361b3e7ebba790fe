//! Guard for the `query_warehouse` MCP tool: decides from the sqlparser AST (never a regex) whether
//! one submitted SQL text is exactly one read-only statement. It runs before anything touches the
//! database; the read-only transaction the statement then runs in is the second wall.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, ObjectName, ObjectNamePart, PipeOperator, Query, Select, SetExpr, Statement, TableFactor,
    Visit, Visitor,
};
use sqlparser::dialect::Dialect;
use sqlparser::parser::{Parser, ParserError};

/// Outcome of checking one SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOnlyStatement {
    /// Statement kind, upper-case, e.g. "SELECT", "VALUES", "SHOW", "EXPLAIN", "DESCRIBE".
    pub kind: &'static str,
    /// The SQL to send to the database: the original text with trailing whitespace and trailing
    /// semicolons removed (never re-rendered from the AST, so error positions still match).
    pub sql: String,
    /// true when the statement is a query that can be wrapped in `DECLARE ... CURSOR FOR` (SELECT,
    /// WITH ... SELECT, VALUES, set operations); false for SHOW / DESCRIBE / EXPLAIN.
    pub cursorable: bool,
}

/// Why a SQL text was refused. Every message starts with "refused: ".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The text is not valid SQL for the dialect; holds sqlparser's message.
    #[error("refused: could not parse SQL: {0}")]
    Unparseable(String),
    /// The text holds no statement (empty, only comments, only `;`).
    #[error("refused: no SQL statement found")]
    Empty,
    /// The text holds more than one statement.
    #[error(
        "refused: {count} statements found ({kinds}); query_warehouse runs exactly one read-only statement"
    )]
    MultipleStatements {
        /// How many statements were parsed.
        count: usize,
        /// The kind of each statement in order, comma separated, e.g. "SELECT, DELETE".
        kinds: String,
    },
    /// The statement itself is not one of the read-only kinds.
    #[error(
        "refused: {kind} is not read-only; query_warehouse only runs SELECT, WITH ... SELECT, VALUES, SHOW, DESCRIBE and EXPLAIN"
    )]
    NotReadOnly {
        /// Statement kind, upper-case, e.g. "DELETE", "CREATE TABLE".
        kind: String,
    },
    /// A data-modifying statement hidden inside a query (CTE, subquery, set operation).
    #[error("refused: {kind} inside {context} is not read-only")]
    HiddenWrite {
        /// Kind of the hidden statement, e.g. "DELETE".
        kind: String,
        /// Where it was found, e.g. "WITH clause (CTE d)" or "subquery".
        context: String,
    },
    /// `SELECT ... INTO` somewhere in the query.
    #[error("refused: SELECT ... INTO creates a table; use execute_statement for writes")]
    SelectInto,
    /// A row-locking clause somewhere in the query.
    #[error("refused: locking clause {clause} takes row locks; not allowed in a read-only query")]
    LockingClause {
        /// The clause, e.g. "FOR UPDATE" or "FOR SHARE".
        clause: String,
    },
    /// `EXPLAIN ANALYZE` (flag or parenthesised option), which runs the statement.
    #[error("refused: EXPLAIN ANALYZE executes the statement; use EXPLAIN without ANALYZE")]
    ExplainAnalyze,
    /// A call to a function on the side-effect denylist.
    #[error("refused: function {name} has side effects; not allowed in a read-only query")]
    SideEffectFunction {
        /// The function name as written, e.g. `pg_catalog.set_config`.
        name: String,
    },
    /// An operator the database would split differently (`>--` is `>` and a comment there).
    #[error(
        "refused: operator `{operator}` is read differently by the database (`--` and `/*` start comments there); put a space before them"
    )]
    AmbiguousOperator { operator: String },
}

/// Refuses text the parser and the database would tokenize differently, so what is checked
/// is what runs: sqlparser reads `>--x` as one custom operator, Postgres as `>` and a comment.
pub fn check_tokens(sql: &str, dialect: &dyn Dialect) -> Result<(), Refusal> {
    // Text that does not tokenize is refused by the parser right after, with its message.
    let Ok(tokens) = sqlparser::tokenizer::Tokenizer::new(dialect, sql).tokenize() else {
        return Ok(());
    };
    for token in tokens {
        if let sqlparser::tokenizer::Token::CustomBinaryOperator(operator) = token
            && (operator.contains("--") || operator.contains("/*"))
        {
            return Err(Refusal::AmbiguousOperator { operator });
        }
    }
    Ok(())
}

/// Functions refused anywhere in a query, compared case-insensitively with the last identifier of
/// the called name. The read-only transaction is the second wall; these are the calls that either
/// escape it (signal or reconfigure the server, advance sequences, touch files, large objects,
/// advisory locks, notifications, other connections, xid assignment) or run arbitrary SQL text
/// (`dblink`, `query_to_xml`, `cursor_to_xml`). Kept sorted (a test checks).
const SIDE_EFFECT_FUNCTIONS: &[&str] = &[
    "cursor_to_xml",
    "dblink",
    "dblink_connect",
    "dblink_disconnect",
    "dblink_exec",
    "dblink_fetch",
    "dblink_get_result",
    "dblink_open",
    "dblink_send_query",
    "lo_creat",
    "lo_create",
    "lo_export",
    "lo_from_bytea",
    "lo_import",
    "lo_open",
    "lo_put",
    "lo_truncate",
    "lo_unlink",
    "lo_write",
    "nextval",
    "pg_advisory_lock",
    "pg_advisory_lock_shared",
    "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared",
    "pg_cancel_backend",
    "pg_create_logical_replication_slot",
    "pg_create_physical_replication_slot",
    "pg_create_restore_point",
    "pg_current_xact_id",
    "pg_drop_replication_slot",
    "pg_file_rename",
    "pg_file_unlink",
    "pg_file_write",
    "pg_logical_emit_message",
    "pg_ls_archive_statusdir",
    "pg_ls_dir",
    "pg_ls_logdir",
    "pg_ls_tmpdir",
    "pg_ls_waldir",
    "pg_notify",
    "pg_promote",
    "pg_read_binary_file",
    "pg_read_file",
    "pg_reload_conf",
    "pg_replication_origin_advance",
    "pg_replication_origin_create",
    "pg_replication_origin_drop",
    "pg_replication_origin_session_setup",
    "pg_rotate_logfile",
    "pg_stat_file",
    "pg_stat_reset",
    "pg_stat_reset_replication_slot",
    "pg_stat_reset_shared",
    "pg_stat_reset_single_function_counters",
    "pg_stat_reset_single_table_counters",
    "pg_stat_reset_slru",
    "pg_stat_reset_subscription_stats",
    "pg_switch_wal",
    "pg_terminate_backend",
    "pg_try_advisory_lock",
    "pg_try_advisory_xact_lock",
    "query_to_xml",
    "query_to_xml_and_xmlschema",
    "set_config",
    "setval",
    "txid_current",
];

/// Checks that `sql` is exactly one read-only statement for `dialect`.
///
/// Accepts a query whose whole tree is read-only, SHOW, DESCRIBE and EXPLAIN (without ANALYZE) of
/// an accepted statement; refuses everything else with the reason.
///
/// # Errors
///
/// A [`Refusal`] saying why the text is not exactly one read-only statement.
pub fn check_read_only(sql: &str, dialect: &dyn Dialect) -> Result<ReadOnlyStatement, Refusal> {
    check_tokens(sql, dialect)?;
    let statements = Parser::parse_sql(dialect, sql).map_err(|e| {
        Refusal::Unparseable(match e {
            ParserError::TokenizerError(message) | ParserError::ParserError(message) => message,
            other @ ParserError::RecursionLimitExceeded => other.to_string(),
        })
    })?;
    let statement = match statements.as_slice() {
        [] => return Err(Refusal::Empty),
        [one] => one,
        many => {
            return Err(Refusal::MultipleStatements {
                count: many.len(),
                kinds: many
                    .iter()
                    .map(statement_kind)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    };
    let kind = check_statement(statement)?;
    Ok(ReadOnlyStatement {
        kind,
        sql: trim_trailing(sql).to_owned(),
        cursorable: matches!(statement, Statement::Query(_)),
    })
}

/// The text without trailing whitespace and `;` (any mix, repeated until stable).
fn trim_trailing(sql: &str) -> &str {
    sql.trim_end_matches(|c: char| c.is_whitespace() || c == ';')
}

/// Returns the accepted kind of `statement`, or why it is refused.
fn check_statement(statement: &Statement) -> Result<&'static str, Refusal> {
    match statement {
        Statement::Query(query) => {
            check_query(query)?;
            Ok(query_kind(&query.body))
        }
        Statement::Explain {
            analyze,
            options,
            statement: explained,
            ..
        } => {
            let analyze_option = options
                .iter()
                .flatten()
                .any(|option| option.name.value.eq_ignore_ascii_case("analyze"));
            if *analyze || analyze_option {
                return Err(Refusal::ExplainAnalyze);
            }
            check_statement(explained)?;
            Ok("EXPLAIN")
        }
        Statement::ExplainTable { .. } => Ok("DESCRIBE"),
        show if is_show(show) => {
            // SHOW filters (`LIKE` / `WHERE expr`) can hold expressions: walk them too.
            match show.visit(&mut Guard::default()) {
                ControlFlow::Break(refusal) => Err(refusal),
                ControlFlow::Continue(()) => Ok("SHOW"),
            }
        }
        other => Err(Refusal::NotReadOnly {
            kind: statement_kind(other),
        }),
    }
}

/// Checks a whole query tree: its body must not be a write, and nothing inside may write, lock
/// rows, create a table or call a side-effecting function.
fn check_query(query: &Query) -> Result<(), Refusal> {
    if let SetExpr::Insert(write)
    | SetExpr::Update(write)
    | SetExpr::Delete(write)
    | SetExpr::Merge(write) = query.body.as_ref()
    {
        return Err(Refusal::NotReadOnly {
            kind: statement_kind(write),
        });
    }
    match query.visit(&mut Guard::default()) {
        ControlFlow::Break(refusal) => Err(refusal),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Every `Statement::Show*` variant.
fn is_show(statement: &Statement) -> bool {
    matches!(
        statement,
        Statement::ShowFunctions { .. }
            | Statement::ShowVariable { .. }
            | Statement::ShowStatus { .. }
            | Statement::ShowVariables { .. }
            | Statement::ShowCreate { .. }
            | Statement::ShowColumns { .. }
            | Statement::ShowCatalogs { .. }
            | Statement::ShowDatabases { .. }
            | Statement::ShowProcessList { .. }
            | Statement::ShowSchemas { .. }
            | Statement::ShowCharset(_)
            | Statement::ShowObjects(_)
            | Statement::ShowTables { .. }
            | Statement::ShowViews { .. }
            | Statement::ShowCollation { .. }
    )
}

/// Kind of a query body: that of its leftmost operand for set operations.
fn query_kind(body: &SetExpr) -> &'static str {
    match body {
        SetExpr::Select(_) => "SELECT",
        SetExpr::Values(_) => "VALUES",
        SetExpr::Table(_) => "TABLE",
        SetExpr::SetOperation { left, .. } => query_kind(left),
        SetExpr::Query(query) => query_kind(&query.body),
        SetExpr::Insert(_) => "INSERT",
        SetExpr::Update(_) => "UPDATE",
        SetExpr::Delete(_) => "DELETE",
        SetExpr::Merge(_) => "MERGE",
    }
}

/// Upper-case kind of a statement, for messages: common variants by name, the rest from the
/// leading keyword(s) of the statement's rendering.
pub fn statement_kind(statement: &Statement) -> String {
    let kind = match statement {
        Statement::Query(query) => query_kind(&query.body),
        Statement::Insert(_) => "INSERT",
        Statement::Update(_) => "UPDATE",
        Statement::Delete(_) => "DELETE",
        Statement::Merge(_) => "MERGE",
        Statement::CreateTable(create) if create.query.is_some() => "CREATE TABLE AS",
        Statement::CreateTable(_) => "CREATE TABLE",
        Statement::CreateView(view) if view.materialized => "CREATE MATERIALIZED VIEW",
        Statement::CreateView(_) => "CREATE VIEW",
        Statement::CreateIndex(_) => "CREATE INDEX",
        Statement::AlterTable(_) => "ALTER TABLE",
        Statement::Drop { object_type, .. } => return format!("DROP {object_type}"),
        Statement::Truncate(_) => "TRUNCATE",
        Statement::Copy { .. } | Statement::CopyIntoSnowflake { .. } => "COPY",
        Statement::Call(_) => "CALL",
        Statement::Grant(_) | Statement::GrantRole(_) => "GRANT",
        Statement::Revoke(_) | Statement::RevokeRole(_) => "REVOKE",
        Statement::Set(_) => "SET",
        Statement::StartTransaction { begin: true, .. } => "BEGIN",
        Statement::StartTransaction { begin: false, .. } => "START TRANSACTION",
        Statement::Commit { .. } => "COMMIT",
        Statement::Rollback { .. } => "ROLLBACK",
        Statement::Lock(_) | Statement::LockTables { .. } => "LOCK",
        Statement::Vacuum(_) => "VACUUM",
        Statement::Analyze(_) => "ANALYZE",
        Statement::Declare { .. } => "DECLARE",
        Statement::Fetch { .. } => "FETCH",
        Statement::Prepare { .. } => "PREPARE",
        Statement::Execute { .. } => "EXECUTE",
        Statement::LISTEN { .. } => "LISTEN",
        Statement::UNLISTEN { .. } => "UNLISTEN",
        Statement::NOTIFY { .. } => "NOTIFY",
        Statement::Comment { .. } => "COMMENT",
        Statement::Explain { .. } => "EXPLAIN",
        Statement::ExplainTable { .. } => "DESCRIBE",
        show if is_show(show) => "SHOW",
        other => return leading_keywords(&other.to_string()),
    };
    kind.to_owned()
}

/// First keyword of a rendered statement, upper-cased; for CREATE / ALTER / DROP also the object
/// type after it, skipping modifiers ("CREATE OR REPLACE FUNCTION f" -> "CREATE FUNCTION").
fn leading_keywords(rendered: &str) -> String {
    const MODIFIERS: &[&str] = &[
        "ALTER",
        "EXTERNAL",
        "GLOBAL",
        "LOCAL",
        "OR",
        "RECURSIVE",
        "REPLACE",
        "SECURE",
        "TEMP",
        "TEMPORARY",
        "TRANSIENT",
        "UNIQUE",
        "UNLOGGED",
        "VOLATILE",
    ];
    // Object types spelled with more than one word: keep reading after these.
    const PREFIXES: &[&str] = &["DATA", "FOREIGN", "MATERIALIZED", "SEARCH", "TEXT"];
    let is_keyword =
        |word: &str| !word.is_empty() && word.chars().all(|c| c.is_ascii_alphabetic() || c == '_');
    let mut words = rendered.split_whitespace().map(str::to_ascii_uppercase);
    let Some(first) = words.next() else {
        return "UNKNOWN".to_owned();
    };
    let mut kind: String = first
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
        .collect();
    if kind.is_empty() {
        return first;
    }
    if matches!(kind.as_str(), "CREATE" | "ALTER" | "DROP") {
        for word in words {
            if !is_keyword(&word) {
                break;
            }
            if MODIFIERS.contains(&word.as_str()) {
                continue;
            }
            kind.push(' ');
            kind.push_str(&word);
            if !PREFIXES.contains(&word.as_str()) {
                break;
            }
        }
    }
    kind
}

/// Last identifier of a (possibly qualified) function name.
fn last_name_part(name: &ObjectName) -> Option<&str> {
    match name.0.last()? {
        ObjectNamePart::Identifier(ident) => Some(&ident.value),
        ObjectNamePart::Function(function) => Some(&function.name.value),
    }
}

/// Refuses a call to a function on [`SIDE_EFFECT_FUNCTIONS`].
fn check_function(name: &ObjectName) -> ControlFlow<Refusal> {
    let denied = last_name_part(name).is_some_and(|last| {
        SIDE_EFFECT_FUNCTIONS
            .iter()
            .any(|denied| denied.eq_ignore_ascii_case(last))
    });
    if denied {
        ControlFlow::Break(Refusal::SideEffectFunction {
            name: name.to_string(),
        })
    } else {
        ControlFlow::Continue(())
    }
}

/// Walks one query tree (every nested query, CTE, set operation, derived table, lateral join and
/// scalar subquery) and stops at the first thing that is not read-only.
#[derive(Default)]
struct Guard {
    /// Bodies of the CTEs declared so far, by address, with their names: a query visited later at
    /// one of these addresses is that CTE's body.
    ctes: Vec<(*const Query, String)>,
    /// Where each query being visited sits, innermost last.
    contexts: Vec<String>,
}

impl Guard {
    fn context_of(&self, query: &Query) -> String {
        if self.contexts.is_empty() {
            return "query".to_owned();
        }
        match self
            .ctes
            .iter()
            .find(|(body, _)| std::ptr::eq(*body, query))
        {
            Some((_, name)) => format!("WITH clause (CTE {name})"),
            None => "subquery".to_owned(),
        }
    }
}

impl Visitor for Guard {
    type Break = Refusal;

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<Refusal> {
        if let Some(lock) = query.locks.first() {
            return ControlFlow::Break(Refusal::LockingClause {
                clause: format!("FOR {}", lock.lock_type),
            });
        }
        for operator in &query.pipe_operators {
            if let PipeOperator::Call { function, .. } = operator {
                check_function(&function.name)?;
            }
        }
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let body: *const Query = cte.query.as_ref();
                self.ctes.push((body, cte.alias.name.value.clone()));
            }
        }
        let context = self.context_of(query);
        self.contexts.push(context);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<Refusal> {
        self.contexts.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_statement(&mut self, statement: &Statement) -> ControlFlow<Refusal> {
        // Inside a query tree a statement only appears as a data-modifying body
        // (`SetExpr::Insert` / `Update` / `Delete` / `Merge`); anything but a query is refused.
        if matches!(statement, Statement::Query(_)) || is_show(statement) {
            return ControlFlow::Continue(());
        }
        ControlFlow::Break(Refusal::HiddenWrite {
            kind: statement_kind(statement),
            context: self
                .contexts
                .last()
                .cloned()
                .unwrap_or_else(|| "query".to_owned()),
        })
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<Refusal> {
        if select.into.is_some() {
            return ControlFlow::Break(Refusal::SelectInto);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table_factor: &TableFactor) -> ControlFlow<Refusal> {
        match table_factor {
            // `FROM f(args)`: a set-returning function call, not a table.
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, .. } => check_function(name),
            _ => ControlFlow::Continue(()),
        }
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<Refusal> {
        match expr {
            Expr::Function(function) => check_function(&function.name),
            _ => ControlFlow::Continue(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use sqlparser::dialect::{GenericDialect, PostgreSqlDialect};

    fn ok(kind: &'static str, sql: &str, cursorable: bool) -> Result<ReadOnlyStatement, Refusal> {
        Ok(ReadOnlyStatement {
            kind,
            sql: sql.to_owned(),
            cursorable,
        })
    }

    /// An accepted query whose text needs no trimming.
    fn query(kind: &'static str, sql: &str) -> Result<ReadOnlyStatement, Refusal> {
        ok(kind, sql, true)
    }

    fn not_read_only(kind: &str) -> Result<ReadOnlyStatement, Refusal> {
        Err(Refusal::NotReadOnly {
            kind: kind.to_owned(),
        })
    }

    fn hidden(kind: &str, context: &str) -> Result<ReadOnlyStatement, Refusal> {
        Err(Refusal::HiddenWrite {
            kind: kind.to_owned(),
            context: context.to_owned(),
        })
    }

    fn lock(clause: &str) -> Result<ReadOnlyStatement, Refusal> {
        Err(Refusal::LockingClause {
            clause: clause.to_owned(),
        })
    }

    fn function(name: &str) -> Result<ReadOnlyStatement, Refusal> {
        Err(Refusal::SideEffectFunction {
            name: name.to_owned(),
        })
    }

    fn unparseable(message: &str) -> Result<ReadOnlyStatement, Refusal> {
        Err(Refusal::Unparseable(message.to_owned()))
    }

    fn multiple(count: usize, kinds: &str) -> Result<ReadOnlyStatement, Refusal> {
        Err(Refusal::MultipleStatements {
            count,
            kinds: kinds.to_owned(),
        })
    }

    fn rows() -> Vec<(&'static str, Result<ReadOnlyStatement, Refusal>)> {
        vec![
            // ---- accepted ----
            (
                "SELECT * FROM orders",
                query("SELECT", "SELECT * FROM orders"),
            ),
            ("select 1;", query("SELECT", "select 1")),
            ("select 1 ;  ; ", query("SELECT", "select 1")),
            ("\n  SELECT 1\n", query("SELECT", "\n  SELECT 1")),
            (
                "WITH x AS (SELECT 1) SELECT * FROM x",
                query("SELECT", "WITH x AS (SELECT 1) SELECT * FROM x"),
            ),
            ("VALUES (1),(2)", query("VALUES", "VALUES (1),(2)")),
            (
                "SELECT a FROM t UNION SELECT b FROM u",
                query("SELECT", "SELECT a FROM t UNION SELECT b FROM u"),
            ),
            (
                "VALUES (1) EXCEPT SELECT 2",
                query("VALUES", "VALUES (1) EXCEPT SELECT 2"),
            ),
            ("SELECT ';' AS semi", query("SELECT", "SELECT ';' AS semi")),
            (
                "SELECT 1 -- ; DELETE FROM t",
                query("SELECT", "SELECT 1 -- ; DELETE FROM t"),
            ),
            (
                "SELECT 1 /* ; DROP TABLE t; */",
                query("SELECT", "SELECT 1 /* ; DROP TABLE t; */"),
            ),
            ("SELECT 'a;b'; ", query("SELECT", "SELECT 'a;b'")),
            // A trailing comment after the `;` is kept: only whitespace and `;` are trimmed.
            ("SELECT 1; -- done", query("SELECT", "SELECT 1; -- done")),
            (
                "SeLeCt * FrOm Orders",
                query("SELECT", "SeLeCt * FrOm Orders"),
            ),
            (
                "SELECT \"número\", ñandú FROM \"tablé\"",
                query("SELECT", "SELECT \"número\", ñandú FROM \"tablé\""),
            ),
            (
                "SELECT * FROM t WHERE id IN (SELECT id FROM u) AND EXISTS (SELECT 1 FROM v)",
                query(
                    "SELECT",
                    "SELECT * FROM t WHERE id IN (SELECT id FROM u) AND EXISTS (SELECT 1 FROM v)",
                ),
            ),
            (
                "SELECT * FROM t, LATERAL (SELECT count(*) FROM u WHERE u.t_id = t.id) c",
                query(
                    "SELECT",
                    "SELECT * FROM t, LATERAL (SELECT count(*) FROM u WHERE u.t_id = t.id) c",
                ),
            ),
            (
                "SELECT * FROM generate_series(1, 3) AS g",
                query("SELECT", "SELECT * FROM generate_series(1, 3) AS g"),
            ),
            // A table (not a call) that shares a denylisted name is fine.
            (
                "SELECT * FROM nextval",
                query("SELECT", "SELECT * FROM nextval"),
            ),
            ("SHOW search_path", ok("SHOW", "SHOW search_path", false)),
            ("SHOW ALL;", ok("SHOW", "SHOW ALL", false)),
            ("EXPLAIN SELECT 1", ok("EXPLAIN", "EXPLAIN SELECT 1", false)),
            (
                "EXPLAIN (VERBOSE, COSTS false) SELECT * FROM t",
                ok(
                    "EXPLAIN",
                    "EXPLAIN (VERBOSE, COSTS false) SELECT * FROM t",
                    false,
                ),
            ),
            // PostgreSqlDialect parses DESCRIBE / DESC as `Statement::ExplainTable`.
            ("DESCRIBE orders", ok("DESCRIBE", "DESCRIBE orders", false)),
            ("DESC orders;", ok("DESCRIBE", "DESC orders", false)),
            // ---- the statement itself writes ----
            ("DELETE FROM t", not_read_only("DELETE")),
            ("delete from t where id = 1", not_read_only("DELETE")),
            ("INSERT INTO t VALUES (1)", not_read_only("INSERT")),
            ("INSERT INTO t SELECT * FROM u", not_read_only("INSERT")),
            ("UPDATE t SET a = 1", not_read_only("UPDATE")),
            (
                "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
                not_read_only("MERGE"),
            ),
            // A WITH clause in front of a write: the body is the write.
            (
                "WITH x AS (SELECT 1) DELETE FROM t",
                not_read_only("DELETE"),
            ),
            ("COPY t TO STDOUT", not_read_only("COPY")),
            ("COPY t FROM '/etc/passwd'", not_read_only("COPY")),
            ("CALL p()", not_read_only("CALL")),
            ("DROP TABLE t", not_read_only("DROP TABLE")),
            (
                "DROP MATERIALIZED VIEW v",
                not_read_only("DROP MATERIALIZED VIEW"),
            ),
            ("DROP FUNCTION f", not_read_only("DROP FUNCTION")),
            ("TRUNCATE t", not_read_only("TRUNCATE")),
            ("CREATE TABLE x (a int)", not_read_only("CREATE TABLE")),
            (
                "CREATE TABLE x AS SELECT 1",
                not_read_only("CREATE TABLE AS"),
            ),
            ("CREATE VIEW v AS SELECT 1", not_read_only("CREATE VIEW")),
            (
                "CREATE MATERIALIZED VIEW v AS SELECT 1",
                not_read_only("CREATE MATERIALIZED VIEW"),
            ),
            (
                "CREATE UNIQUE INDEX i ON t (a)",
                not_read_only("CREATE INDEX"),
            ),
            ("CREATE SCHEMA s", not_read_only("CREATE SCHEMA")),
            (
                "ALTER TABLE t ADD COLUMN c int",
                not_read_only("ALTER TABLE"),
            ),
            ("GRANT SELECT ON t TO bob", not_read_only("GRANT")),
            ("REVOKE SELECT ON t FROM bob", not_read_only("REVOKE")),
            ("SET search_path = x", not_read_only("SET")),
            ("BEGIN", not_read_only("BEGIN")),
            (
                "START TRANSACTION READ WRITE",
                not_read_only("START TRANSACTION"),
            ),
            ("COMMIT", not_read_only("COMMIT")),
            ("ROLLBACK", not_read_only("ROLLBACK")),
            ("LOCK TABLE t", not_read_only("LOCK")),
            // `VACUUM` parses (Statement::Vacuum) and is refused as such.
            ("VACUUM", not_read_only("VACUUM")),
            ("ANALYZE t", not_read_only("ANALYZE")),
            ("DECLARE c CURSOR FOR SELECT 1", not_read_only("DECLARE")),
            ("FETCH 1 FROM c", not_read_only("FETCH")),
            ("PREPARE p AS SELECT 1", not_read_only("PREPARE")),
            ("EXECUTE p", not_read_only("EXECUTE")),
            ("LISTEN x", not_read_only("LISTEN")),
            ("NOTIFY x", not_read_only("NOTIFY")),
            ("COMMENT ON TABLE t IS 'x'", not_read_only("COMMENT")),
            ("REFRESH MATERIALIZED VIEW v", not_read_only("REFRESH")),
            // `DO` is not parsed by sqlparser 0.64 at all: refused as unparseable.
            (
                "DO $$ BEGIN DELETE FROM t; END $$",
                unparseable("Expected: an SQL statement, found: DO at Line: 1, Column: 1"),
            ),
            // ---- writes hidden inside a query ----
            (
                "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                hidden("DELETE", "WITH clause (CTE d)"),
            ),
            (
                "WITH u AS (UPDATE t SET a=1 RETURNING *) SELECT 1",
                hidden("UPDATE", "WITH clause (CTE u)"),
            ),
            (
                "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i",
                hidden("INSERT", "WITH clause (CTE i)"),
            ),
            (
                "WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM t RETURNING 1) SELECT * FROM c) SELECT * FROM b",
                hidden("DELETE", "WITH clause (CTE c)"),
            ),
            (
                "SELECT 1 UNION (DELETE FROM t RETURNING 1)",
                hidden("DELETE", "subquery"),
            ),
            // ---- SELECT ... INTO, locking clauses ----
            ("SELECT * INTO new_t FROM t", Err(Refusal::SelectInto)),
            (
                "SELECT * FROM (SELECT * INTO TEMP x FROM t) s",
                Err(Refusal::SelectInto),
            ),
            ("SELECT * FROM t FOR UPDATE", lock("FOR UPDATE")),
            ("SELECT * FROM t FOR SHARE", lock("FOR SHARE")),
            ("SELECT * FROM t FOR UPDATE OF t NOWAIT", lock("FOR UPDATE")),
            (
                "SELECT * FROM (SELECT * FROM t FOR UPDATE) s",
                lock("FOR UPDATE"),
            ),
            (
                "WITH l AS (SELECT * FROM t FOR SHARE) SELECT * FROM l",
                lock("FOR SHARE"),
            ),
            // sqlparser 0.64 only knows FOR UPDATE / FOR SHARE: the other Postgres row-lock
            // strengths do not parse, which still refuses them.
            (
                "SELECT * FROM t FOR NO KEY UPDATE",
                unparseable("Expected: one of UPDATE or SHARE, found: NO at Line: 1, Column: 21"),
            ),
            (
                "SELECT * FROM t FOR KEY SHARE",
                unparseable("Expected: one of UPDATE or SHARE, found: KEY at Line: 1, Column: 21"),
            ),
            // ---- EXPLAIN ----
            (
                "EXPLAIN ANALYZE DELETE FROM t",
                Err(Refusal::ExplainAnalyze),
            ),
            ("EXPLAIN ANALYZE SELECT 1", Err(Refusal::ExplainAnalyze)),
            // Parenthesised options parse into `options`, with `analyze` left false.
            ("EXPLAIN (ANALYZE) SELECT 1", Err(Refusal::ExplainAnalyze)),
            (
                "EXPLAIN (ANALYZE true, BUFFERS) SELECT 1",
                Err(Refusal::ExplainAnalyze),
            ),
            (
                "EXPLAIN (FORMAT JSON, analyze) SELECT 1",
                Err(Refusal::ExplainAnalyze),
            ),
            ("EXPLAIN DELETE FROM t", not_read_only("DELETE")),
            ("EXPLAIN SELECT * FROM t FOR UPDATE", lock("FOR UPDATE")),
            (
                "EXPLAIN WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
                hidden("DELETE", "WITH clause (CTE d)"),
            ),
            // ---- more than one statement ----
            ("SELECT 1; DELETE FROM t", multiple(2, "SELECT, DELETE")),
            ("SELECT 1; SELECT 2", multiple(2, "SELECT, SELECT")),
            (
                "VALUES (1); DROP TABLE t; COMMIT;",
                multiple(3, "VALUES, DROP TABLE, COMMIT"),
            ),
            // ---- side-effecting functions ----
            (
                "SELECT pg_terminate_backend(123)",
                function("pg_terminate_backend"),
            ),
            (
                "SELECT pg_catalog.pg_terminate_backend(123)",
                function("pg_catalog.pg_terminate_backend"),
            ),
            (
                "SELECT pg_catalog.set_config('a','b',false)",
                function("pg_catalog.set_config"),
            ),
            ("SELECT nextval('s')", function("nextval")),
            ("SELECT NEXTVAL('s')", function("NEXTVAL")),
            ("SELECT \"setval\"('s', 1)", function("\"setval\"")),
            (
                "SELECT * FROM t WHERE id IN (SELECT pg_cancel_backend(1))",
                function("pg_cancel_backend"),
            ),
            (
                "SELECT query_to_xml('delete from t', true, false, '')",
                function("query_to_xml"),
            ),
            ("SELECT (SELECT txid_current())", function("txid_current")),
            (
                "SELECT * FROM t, LATERAL (SELECT pg_advisory_lock(t.id)) l",
                function("pg_advisory_lock"),
            ),
            (
                "SELECT (t).pg_terminate_backend() FROM t",
                function("pg_terminate_backend"),
            ),
            (
                "SELECT * FROM pg_terminate_backend(1)",
                function("pg_terminate_backend"),
            ),
            (
                "SELECT * FROM dblink('host=x', 'delete from t') AS r(a int)",
                function("dblink"),
            ),
            (
                "WITH s AS (SELECT lo_import('/etc/passwd')) SELECT * FROM s",
                function("lo_import"),
            ),
            (
                "SELECT 1 UNION ALL SELECT pg_notify('c', 'x')",
                function("pg_notify"),
            ),
            (
                "SELECT CASE WHEN a > 0 THEN pg_reload_conf() END FROM t",
                function("pg_reload_conf"),
            ),
            (
                "SELECT count(*) FILTER (WHERE pg_switch_wal() IS NOT NULL) FROM t",
                function("pg_switch_wal"),
            ),
            (
                "SELECT * FROM t ORDER BY pg_read_file('/etc/passwd')",
                function("pg_read_file"),
            ),
            (
                "EXPLAIN SELECT set_config('a', 'b', false)",
                function("set_config"),
            ),
            // ---- nothing / not SQL ----
            ("", Err(Refusal::Empty)),
            ("  ;  ", Err(Refusal::Empty)),
            ("-- only a comment", Err(Refusal::Empty)),
            ("/* block */ ;", Err(Refusal::Empty)),
            (
                "SELEC 1",
                unparseable("Expected: an SQL statement, found: SELEC at Line: 1, Column: 1"),
            ),
            // `TABLE t` (Postgres shorthand) is not parsed by sqlparser 0.64.
            (
                "TABLE t",
                unparseable("Expected: an SQL statement, found: TABLE at Line: 1, Column: 1"),
            ),
            (
                "SELECT 'unterminated",
                unparseable("Unterminated string literal at Line: 1, Column: 8"),
            ),
        ]
    }

    #[test]
    fn postgres_table() {
        let rows = rows();
        assert!(rows.len() >= 40, "only {} rows", rows.len());
        for (sql, expected) in rows {
            assert_eq!(
                check_read_only(sql, &PostgreSqlDialect {}),
                expected,
                "sql: {sql:?}"
            );
        }
    }

    #[test]
    fn generic_dialect_describe_and_show() {
        let rows = [
            ("DESCRIBE orders", ok("DESCRIBE", "DESCRIBE orders", false)),
            ("DESC orders ;", ok("DESCRIBE", "DESC orders", false)),
            ("SHOW TABLES", ok("SHOW", "SHOW TABLES", false)),
            (
                "SHOW TABLES WHERE pg_terminate_backend(1)",
                function("pg_terminate_backend"),
            ),
            ("SELECT 1", query("SELECT", "SELECT 1")),
            ("DELETE FROM t", not_read_only("DELETE")),
            // Pipe syntax parses in GenericDialect only; `|> CALL` is a function call too.
            (
                "SELECT * FROM t |> CALL pg_terminate_backend(1)",
                function("pg_terminate_backend"),
            ),
        ];
        for (sql, expected) in rows {
            assert_eq!(
                check_read_only(sql, &GenericDialect {}),
                expected,
                "sql: {sql:?}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let sql = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
        assert_eq!(
            check_read_only(&sql, &PostgreSqlDialect {}),
            unparseable("sql parser error: recursion limit exceeded")
        );
    }

    #[test]
    fn messages_start_with_refused() {
        let cases = [
            (
                Refusal::Unparseable("boom".to_owned()),
                "refused: could not parse SQL: boom",
            ),
            (Refusal::Empty, "refused: no SQL statement found"),
            (
                Refusal::MultipleStatements {
                    count: 2,
                    kinds: "SELECT, DELETE".to_owned(),
                },
                "refused: 2 statements found (SELECT, DELETE); query_warehouse runs exactly one read-only statement",
            ),
            (
                Refusal::NotReadOnly {
                    kind: "DELETE".to_owned(),
                },
                "refused: DELETE is not read-only; query_warehouse only runs SELECT, WITH ... SELECT, VALUES, SHOW, DESCRIBE and EXPLAIN",
            ),
            (
                Refusal::HiddenWrite {
                    kind: "DELETE".to_owned(),
                    context: "WITH clause (CTE d)".to_owned(),
                },
                "refused: DELETE inside WITH clause (CTE d) is not read-only",
            ),
            (
                Refusal::SelectInto,
                "refused: SELECT ... INTO creates a table; use execute_statement for writes",
            ),
            (
                Refusal::LockingClause {
                    clause: "FOR UPDATE".to_owned(),
                },
                "refused: locking clause FOR UPDATE takes row locks; not allowed in a read-only query",
            ),
            (
                Refusal::ExplainAnalyze,
                "refused: EXPLAIN ANALYZE executes the statement; use EXPLAIN without ANALYZE",
            ),
            (
                Refusal::SideEffectFunction {
                    name: "nextval".to_owned(),
                },
                "refused: function nextval has side effects; not allowed in a read-only query",
            ),
        ];
        for (refusal, message) in cases {
            assert_eq!(refusal.to_string(), message);
        }
    }

    #[test]
    fn denylist_is_sorted_lowercase_and_unique() {
        for pair in SIDE_EFFECT_FUNCTIONS.windows(2) {
            assert!(
                pair[0] < pair[1],
                "{} must sort before {}",
                pair[0],
                pair[1]
            );
        }
        for name in SIDE_EFFECT_FUNCTIONS {
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }

    #[test]
    fn every_denylisted_function_is_refused() {
        for name in SIDE_EFFECT_FUNCTIONS {
            let sql = format!("SELECT pg_catalog.{}(1)", name.to_ascii_uppercase());
            assert_eq!(
                check_read_only(&sql, &PostgreSqlDialect {}),
                function(&format!("pg_catalog.{}", name.to_ascii_uppercase())),
                "sql: {sql:?}"
            );
        }
    }

    #[test]
    fn leading_keywords_fallback() {
        let cases = [
            (
                "CREATE OR REPLACE FUNCTION f() RETURNS int",
                "CREATE FUNCTION",
            ),
            (
                "CREATE FOREIGN DATA WRAPPER w",
                "CREATE FOREIGN DATA WRAPPER",
            ),
            (
                "CREATE TEXT SEARCH CONFIGURATION c",
                "CREATE TEXT SEARCH CONFIGURATION",
            ),
            ("ALTER ROLE bob", "ALTER ROLE"),
            ("DROP EXTENSION x", "DROP EXTENSION"),
            ("refresh materialized view v", "REFRESH"),
            ("CREATE", "CREATE"),
            ("", "UNKNOWN"),
        ];
        for (rendered, kind) in cases {
            assert_eq!(leading_keywords(rendered), kind, "rendered: {rendered:?}");
        }
    }
}
