//! Table names as users type them: parsing `schema.table` with SQL quoting rules, and finding
//! the closest existing names when one does not exist.

use sqlparser::ast::Ident;
use sqlparser::dialect::Dialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::WarehouseError;

/// A table reference split into its parts; `folded` applies the unquoted-identifier rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

/// Parses a table name a user gave, or says what is wrong with it.
pub fn parse_table_name(input: &str, dialect: &dyn Dialect) -> Result<TableName, WarehouseError> {
    split_table_name(input, dialect).map_err(|reason| WarehouseError::BadTableName {
        table: input.to_string(),
        reason,
    })
}

/// Parses `name`, `schema.name` or quoted forms (`"Odd Schema"."Tbl"`). Unquoted parts are
/// lower-cased, as Postgres does.
fn split_table_name(input: &str, dialect: &dyn Dialect) -> Result<TableName, String> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err("the table name is empty".into());
    }
    let mut parser = Parser::new(dialect)
        .try_with_sql(trimmed)
        .map_err(|e| e.to_string())?;
    let object = parser.parse_object_name(false).map_err(|e| e.to_string())?;
    if parser.peek_token().token != Token::EOF {
        return Err("expected `table` or `schema.table`".into());
    }
    let parts: Vec<String> = object
        .0
        .iter()
        .map(|part| part.as_ident().map(fold))
        .collect::<Option<_>>()
        .ok_or_else(|| "expected `table` or `schema.table`".to_string())?;
    match parts.as_slice() {
        [name] => Ok(TableName {
            schema: None,
            name: name.clone(),
        }),
        [schema, name] => Ok(TableName {
            schema: Some(schema.clone()),
            name: name.clone(),
        }),
        _ => Err(format!(
            "expected `table` or `schema.table`, got {} parts",
            parts.len()
        )),
    }
}

fn fold(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// Up to three existing qualified names closest to `wanted`, best first: by edit distance
/// on the whole name and on the bare table name, and by containment ("customer" finds
/// "customer_features").
pub fn close_matches<'a>(wanted: &str, existing: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let wanted_bare = bare(&wanted);
    let mut scored: Vec<(f64, &str)> = existing
        .into_iter()
        .map(|qualified| {
            let lower = qualified.to_lowercase();
            let candidate_bare = bare(&lower);
            let mut score = strsim::normalized_levenshtein(&wanted, &lower)
                .max(strsim::normalized_levenshtein(wanted_bare, candidate_bare));
            if wanted_bare.len() >= 3 && candidate_bare.contains(wanted_bare) {
                score = score.max(0.7);
            }
            (score, qualified)
        })
        .filter(|(score, _)| *score >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(3)
        .map(|(_, name)| name.to_string())
        .collect()
}

fn bare(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Quotes an identifier, doubling embedded quotes (Postgres and Trino alike).
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// A SQL string literal, doubling embedded single quotes (Postgres and Trino alike).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use sqlparser::dialect::PostgreSqlDialect;

    fn parse(input: &str) -> Result<TableName, String> {
        split_table_name(input, &PostgreSqlDialect {})
    }

    #[test]
    fn parses_and_folds_table_names() {
        let table = |schema: Option<&str>, name: &str| {
            Ok(TableName {
                schema: schema.map(str::to_string),
                name: name.into(),
            })
        };
        assert_eq!(parse("orders"), table(None, "orders"));
        assert_eq!(parse("Gold.Orders"), table(Some("gold"), "orders"));
        assert_eq!(
            parse(r#""Gold"."Big ""Orders""""#),
            table(Some("Gold"), r#"Big "Orders""#)
        );
        assert_eq!(parse(" gold . orders "), table(Some("gold"), "orders"));
        assert_eq!(parse("ventes_été"), table(None, "ventes_été"));
    }

    #[test]
    fn rejects_malformed_table_names() {
        assert_eq!(parse(""), Err("the table name is empty".to_string()));
        assert_eq!(
            parse("a.b.c"),
            Err("expected `table` or `schema.table`, got 3 parts".to_string())
        );
        assert_eq!(
            parse("orders; drop table x"),
            Err("expected `table` or `schema.table`".to_string())
        );
    }

    #[test]
    fn close_matches_rank_by_similarity() {
        let existing = [
            "gold.orders",
            "gold.customers",
            "gold.customer_features",
            "ops.jobs",
        ];
        assert_eq!(close_matches("gold.order", existing), vec!["gold.orders"]);
        assert_eq!(
            close_matches("customer", existing),
            vec!["gold.customers", "gold.customer_features"]
        );
        assert_eq!(close_matches("zzz", existing), Vec::<String>::new());
    }

    #[test]
    fn quotes_identifiers() {
        assert_eq!(quote_ident(r#"a"b"#), r#""a""b""#);
    }
}
