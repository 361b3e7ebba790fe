//! The aggregate SQL data-quality statistics are computed with, in the dialect of the configured
//! warehouse (Postgres or Trino), run through the same read-only guard and limits as
//! `query_warehouse`. Only aggregates leave the warehouse, never raw rows.

use std::sync::Arc;

use serde_json::Value;
use steward_tools::tool::CallContext;
use steward_tools::warehouse::sql_guard::check_read_only;
use steward_tools::warehouse::{
    ColumnInfo, QueryLimits, QueryResult, TableDescription, Warehouse, WarehouseError,
};

/// Where an aggregate query fails: the SQL is kept so the finding can show it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SqlFailure {
    pub message: String,
    pub sql: Option<String>,
}

impl SqlFailure {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            sql: None,
        }
    }
}

/// SQL spellings that differ between the backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Trino,
}

/// The warehouse, the caller's context and limits: everything needed to run aggregates.
#[derive(Clone)]
pub struct Aggregates {
    warehouse: Arc<dyn Warehouse>,
    limits: QueryLimits,
    pub dialect: Dialect,
}

impl Aggregates {
    pub fn new(warehouse: Arc<dyn Warehouse>, limits: QueryLimits) -> Self {
        let dialect = if warehouse.kind() == "trino" {
            Dialect::Trino
        } else {
            Dialect::Postgres
        };
        Self {
            warehouse,
            limits,
            dialect,
        }
    }

    /// The table's columns (no sample rows), or a message naming what was not found.
    pub async fn describe(
        &self,
        ctx: &CallContext,
        table: &str,
    ) -> Result<TableDescription, SqlFailure> {
        self.warehouse
            .describe_table(ctx, table, 0, &self.limits)
            .await
            .map_err(|e| SqlFailure::new(e.to_string()))
    }

    /// Runs one aggregate statement; at most `max_rows` rows are expected.
    pub async fn query(
        &self,
        ctx: &CallContext,
        sql: &str,
        max_rows: usize,
    ) -> Result<QueryResult, SqlFailure> {
        let with_sql = |message: String| SqlFailure {
            message,
            sql: Some(sql.to_string()),
        };
        let statement = check_read_only(sql, self.warehouse.dialect())
            .map_err(|refusal| with_sql(format!("internal query refused: {refusal}")))?;
        let cap = max_rows.min(self.limits.max_rows);
        let result = self
            .warehouse
            .query(ctx, &statement, cap, &self.limits)
            .await
            .map_err(|e: WarehouseError| with_sql(e.to_string()))?;
        if result.truncated {
            return Err(with_sql(format!(
                "the aggregate returned more than {cap} rows; narrow the check"
            )));
        }
        Ok(result)
    }

    /// Seconds since the Unix epoch of a timestamp or date column, as a double. Timestamps
    /// without a time zone are read as UTC.
    pub fn epoch(&self, column: &str) -> String {
        let column = quote_ident(column);
        match self.dialect {
            Dialect::Postgres => {
                format!("CAST(EXTRACT(EPOCH FROM {column}) AS double precision)")
            }
            Dialect::Trino => format!("to_unixtime(CAST({column} AS timestamp(6) with time zone))"),
        }
    }

    /// A column as a double (numeric profiles, histograms).
    pub fn double(&self, column: &str) -> String {
        let column = quote_ident(column);
        match self.dialect {
            Dialect::Postgres => format!("CAST({column} AS double precision)"),
            Dialect::Trino => format!("CAST({column} AS double)"),
        }
    }

    /// The `q` quantile of a double expression: exact on Postgres, approximate on Trino.
    pub fn quantile(&self, expression: &str, q: f64) -> String {
        match self.dialect {
            Dialect::Postgres => {
                format!("percentile_cont({q}) WITHIN GROUP (ORDER BY {expression})")
            }
            Dialect::Trino => format!("approx_percentile({expression}, {q})"),
        }
    }
}

pub use steward_tools::warehouse::names::{quote_ident, quote_literal};

/// The described table as a quoted `"schema"."table"`.
pub fn quote_table(table: &TableDescription) -> String {
    format!(
        "{}.{}",
        quote_ident(&table.schema),
        quote_ident(&table.name)
    )
}

/// A finite number as SQL (never exponent notation, which some dialects read as double).
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// A cell as f64: JSON numbers and the text form of exact numerics (`numeric`, `decimal`).
pub fn cell_f64(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Cell `index` of the first row as f64 (`None` for NULL or no row).
pub fn first_f64(result: &QueryResult, index: usize) -> Option<f64> {
    result.rows.first()?.get(index).and_then(cell_f64)
}

/// What a column's type allows a check to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnClass {
    Time,
    Numeric,
    Other,
}

/// Classifies a type as spelled by Postgres (`timestamp with time zone`, `numeric(12,2)`) or
/// Trino (`timestamp(3)`, `decimal(12,2)`, `double`).
pub fn classify(data_type: &str) -> ColumnClass {
    let t = data_type.to_ascii_lowercase();
    let base = t.split('(').next().unwrap_or("").trim();
    if base.starts_with("timestamp") || base == "date" {
        return ColumnClass::Time;
    }
    const NUMERIC: [&str; 12] = [
        "smallint",
        "integer",
        "int",
        "bigint",
        "tinyint",
        "real",
        "double precision",
        "double",
        "numeric",
        "decimal",
        "float",
        "money",
    ];
    if NUMERIC.contains(&base) {
        ColumnClass::Numeric
    } else {
        ColumnClass::Other
    }
}

/// The column named `name` (exact, then case-insensitive), or a message listing the columns.
pub fn find_column<'a>(table: &'a TableDescription, name: &str) -> Result<&'a ColumnInfo, String> {
    table
        .columns
        .iter()
        .find(|c| c.name == name)
        .or_else(|| {
            table
                .columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
        })
        .ok_or_else(|| {
            let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            format!(
                "column {name:?} not found in {}.{}; its columns are: {}",
                table.schema,
                table.name,
                names.join(", ")
            )
        })
}

/// The column, which must be a timestamp or date, for time windows.
pub fn time_column<'a>(table: &'a TableDescription, name: &str) -> Result<&'a ColumnInfo, String> {
    let column = find_column(table, name)?;
    if classify(&column.data_type) != ColumnClass::Time {
        return Err(format!(
            "column {name:?} of {}.{} is {}, not a timestamp or date, so it cannot define time \
             windows",
            table.schema, table.name, column.data_type
        ));
    }
    Ok(column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn types_are_classified_for_both_dialects() {
        for (t, class) in [
            ("timestamp with time zone", ColumnClass::Time),
            ("timestamp without time zone", ColumnClass::Time),
            ("timestamp(3) with time zone", ColumnClass::Time),
            ("date", ColumnClass::Time),
            ("numeric(12,2)", ColumnClass::Numeric),
            ("decimal(12,2)", ColumnClass::Numeric),
            ("double precision", ColumnClass::Numeric),
            ("double", ColumnClass::Numeric),
            ("bigint", ColumnClass::Numeric),
            ("text", ColumnClass::Other),
            ("varchar(20)", ColumnClass::Other),
            ("boolean", ColumnClass::Other),
            ("interval", ColumnClass::Other),
        ] {
            assert_eq!(classify(t), class, "{t}");
        }
    }

    #[test]
    fn identifiers_and_numbers_are_written_safely() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(number(1_795_996_800.0), "1795996800");
        assert_eq!(number(0.25), "0.25");
        assert_eq!(cell_f64(&Value::String("12.50".into())), Some(12.5));
        assert_eq!(cell_f64(&Value::Null), None);
    }
}
