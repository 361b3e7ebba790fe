//! Reads a write or DDL statement for `execute_statement`: exactly one statement, not read-only,
//! not transaction control; reports its kind and the tables and schemas it touches.

use std::ops::ControlFlow;

use sqlparser::ast::{ObjectName, ObjectType, Statement, visit_relations};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::names::TableName;
use super::sql_guard::{check_read_only, check_tokens, statement_kind};

/// One parsed write statement and what it touches (names as written, unqualified allowed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteStatement {
    /// Upper-case kind, e.g. "DELETE", "DROP TABLE", "CREATE TABLE".
    pub kind: String,
    /// The SQL to run: the original text without trailing semicolons.
    pub sql: String,
    pub tables: Vec<TableName>,
    /// Schemas named as objects themselves (DROP SCHEMA, CREATE SCHEMA).
    pub schemas: Vec<String>,
    /// INSERT / UPDATE / DELETE / MERGE: rows can be estimated with EXPLAIN.
    pub is_dml: bool,
    /// CASCADE anywhere: the statement can reach objects it does not name.
    pub cascade: bool,
    /// OWNER TO: an ownership (privilege) change.
    pub changes_owner: bool,
}

/// Parses `sql` as a single write statement, or says why it is not one.
pub fn parse_write(sql: &str, dialect: &dyn Dialect) -> Result<WriteStatement, String> {
    check_tokens(sql, dialect).map_err(|refusal| refusal.to_string())?;
    if check_read_only(sql, dialect).is_ok() {
        return Err("refused: this statement is read-only; use query_warehouse".into());
    }
    let statements = Parser::parse_sql(dialect, sql)
        .map_err(|e| format!("refused: could not parse SQL: {e}"))?;
    let statement = match statements.as_slice() {
        [] => return Err("refused: no SQL statement found".into()),
        [one] => one,
        many => {
            let kinds: Vec<String> = many.iter().map(statement_kind).collect();
            return Err(format!(
                "refused: {} statements found ({}); execute_statement runs exactly one",
                many.len(),
                kinds.join(", ")
            ));
        }
    };
    let kind = statement_kind(statement);
    if matches!(
        statement,
        Statement::StartTransaction { .. }
            | Statement::Commit { .. }
            | Statement::Rollback { .. }
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::Set(_)
    ) {
        return Err(format!(
            "refused: {kind} controls the session or transaction; execute_statement runs one \
             statement in its own transaction"
        ));
    }
    let mut tables = Vec::new();
    let mut schemas = Vec::new();
    if let Statement::Drop {
        object_type, names, ..
    } = statement
    {
        for name in names {
            match object_type {
                ObjectType::Schema => schemas.extend(parts(name).last().cloned()),
                _ => tables.extend(table_name(name)),
            }
        }
    }
    match statement {
        Statement::CreateSchema { schema_name, .. } => schemas.push(schema_name.to_string()),
        Statement::AlterSchema(alter) => schemas.extend(parts(&alter.name).last().cloned()),
        Statement::DropFunction(drop) => {
            schemas.extend(drop.func_desc.iter().filter_map(|f| schema_of(&f.name)));
        }
        Statement::DropProcedure { proc_desc, .. } => {
            schemas.extend(proc_desc.iter().filter_map(|f| schema_of(&f.name)));
        }
        _ => {}
    }
    let keywords = keywords(sql, dialect);
    let cascade = keywords.contains(&Keyword::CASCADE);
    let changes_owner = keywords
        .windows(2)
        .any(|pair| pair == [Keyword::OWNER, Keyword::TO]);
    let _ = visit_relations(statement, |relation| {
        if let Some(table) = table_name(relation)
            && !tables.contains(&table)
        {
            tables.push(table);
        }
        ControlFlow::<()>::Continue(())
    });
    let is_dml = matches!(
        statement,
        Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) | Statement::Merge(_)
    );
    Ok(WriteStatement {
        kind,
        sql: sql
            .trim_end()
            .trim_end_matches([';', ' ', '\n', '\t', '\r'])
            .to_string(),
        tables,
        schemas,
        is_dml,
        cascade,
        changes_owner,
    })
}

/// Keywords of the statement in order (identifiers, literals and comments left out).
fn keywords(sql: &str, dialect: &dyn Dialect) -> Vec<Keyword> {
    Tokenizer::new(dialect, sql)
        .tokenize()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|token| match token {
            Token::Word(word) if word.quote_style.is_none() => Some(word.keyword),
            _ => None,
        })
        .collect()
}

fn schema_of(name: &ObjectName) -> Option<String> {
    table_name(name).and_then(|t| t.schema)
}

fn parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .filter_map(|part| part.as_ident())
        .map(|ident| match ident.quote_style {
            Some(_) => ident.value.clone(),
            None => ident.value.to_lowercase(),
        })
        .collect()
}

fn table_name(name: &ObjectName) -> Option<TableName> {
    match parts(name).as_slice() {
        [name] => Some(TableName {
            schema: None,
            name: name.clone(),
        }),
        [.., schema, name] => Some(TableName {
            schema: Some(schema.clone()),
            name: name.clone(),
        }),
        [] => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use sqlparser::dialect::PostgreSqlDialect;

    fn t(schema: Option<&str>, name: &str) -> TableName {
        TableName {
            schema: schema.map(str::to_string),
            name: name.into(),
        }
    }

    fn parse(sql: &str) -> Result<(String, Vec<TableName>, Vec<String>, bool), String> {
        parse_write(sql, &PostgreSqlDialect {}).map(|w| (w.kind, w.tables, w.schemas, w.is_dml))
    }

    #[test]
    fn cascade_owner_changes_and_schema_objects_are_facts() {
        let write = |sql: &str| parse_write(sql, &PostgreSqlDialect {}).unwrap();
        assert!(write("DROP TYPE public.st CASCADE").cascade);
        assert!(write("TRUNCATE gold.orders CASCADE").cascade);
        assert!(!write("DELETE FROM t WHERE note = 'cascade'").cascade);
        assert!(write("ALTER TABLE gold.orders OWNER TO bob").changes_owner);
        assert!(!write("ALTER TABLE gold.orders ADD COLUMN owner text").changes_owner);
        assert_eq!(
            write("ALTER SCHEMA gold RENAME TO silver").schemas,
            vec!["gold"]
        );
        assert_eq!(write("DROP FUNCTION gold.f(int)").schemas, vec!["gold"]);
    }

    #[test]
    fn write_statements_report_kind_and_targets() {
        let cases = [
            (
                "DELETE FROM gold.orders WHERE status = 'x';",
                ("DELETE", vec![t(Some("gold"), "orders")], vec![], true),
            ),
            (
                "update Orders set a = 1",
                ("UPDATE", vec![t(None, "orders")], vec![], true),
            ),
            (
                "INSERT INTO gold.orders SELECT * FROM staging.orders",
                (
                    "INSERT",
                    vec![t(Some("gold"), "orders"), t(Some("staging"), "orders")],
                    vec![],
                    true,
                ),
            ),
            (
                "DROP TABLE gold.orders, tmp",
                (
                    "DROP TABLE",
                    vec![t(Some("gold"), "orders"), t(None, "tmp")],
                    vec![],
                    false,
                ),
            ),
            (
                "TRUNCATE gold.orders",
                ("TRUNCATE", vec![t(Some("gold"), "orders")], vec![], false),
            ),
            (
                "DROP SCHEMA gold CASCADE",
                ("DROP SCHEMA", vec![], vec!["gold".to_string()], false),
            ),
            (
                "CREATE TABLE ops.x (id int)",
                ("CREATE TABLE", vec![t(Some("ops"), "x")], vec![], false),
            ),
            (
                "ALTER TABLE gold.orders ADD COLUMN c int",
                (
                    "ALTER TABLE",
                    vec![t(Some("gold"), "orders")],
                    vec![],
                    false,
                ),
            ),
            (
                "GRANT SELECT ON gold.orders TO bob",
                ("GRANT", vec![], vec![], false),
            ),
        ];
        for (sql, (kind, tables, schemas, dml)) in cases {
            assert_eq!(
                parse(sql),
                Ok((kind.to_string(), tables, schemas, dml)),
                "{sql}"
            );
        }
    }

    #[test]
    fn operators_the_database_splits_are_refused() {
        // sqlparser sees `>--` as one operator and the quote as a string; Postgres sees a
        // comment, and a hidden DELETE of gold.orders.
        let smuggled = "WITH a AS (SELECT 2 >--'\n+1), d AS (DELETE FROM gold.orders RETURNING 1), \
                        e AS (SELECT 2 >--'\n+1) DELETE FROM public.junk";
        assert_eq!(
            parse(smuggled),
            Err("refused: operator `>--` is read differently by the database (`--` and `/*` start comments there); put a space before them".into())
        );
    }

    #[test]
    fn non_writes_are_refused() {
        assert_eq!(
            parse("SELECT 1"),
            Err("refused: this statement is read-only; use query_warehouse".into())
        );
        assert_eq!(
            parse("DELETE FROM a; DELETE FROM b"),
            Err(
                "refused: 2 statements found (DELETE, DELETE); execute_statement runs exactly one"
                    .into()
            )
        );
        assert_eq!(
            parse("COMMIT"),
            Err("refused: COMMIT controls the session or transaction; execute_statement runs one statement in its own transaction".into())
        );
        assert_eq!(parse("   "), Err("refused: no SQL statement found".into()));
    }
}
