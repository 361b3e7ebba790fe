//! `profile_column`: one column's profile computed by the warehouse — rows, nulls, distinct
//! values, min/max, quantiles, mean and standard deviation (numeric) and the top values —
//! optionally within a time window.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use super::sql::{
    Aggregates, ColumnClass, cell_f64, classify, find_column, quote_ident, quote_table, time_column,
};
use super::time;

const QUANTILES: [f64; 7] = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Table, `schema.table`.
    pub table: String,
    pub column: String,
    /// Timestamp or date column restricting the rows to [since, until).
    #[serde(default)]
    pub time_column: Option<String>,
    /// RFC 3339 instant or date (UTC); requires time_column.
    #[serde(default)]
    pub since: Option<String>,
    /// RFC 3339 instant or date (UTC); requires time_column.
    #[serde(default)]
    pub until: Option<String>,
    /// How many of the most frequent values to return (default 10, at most 100).
    #[serde(default)]
    pub top: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Output {
    pub table: String,
    pub column: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub rows: f64,
    pub nulls: f64,
    pub null_rate: Option<f64>,
    pub distinct: f64,
    /// Text form for non-numeric columns.
    pub min: Value,
    pub max: Value,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    /// p01, p05, p25, p50, p75, p95, p99 (numeric columns; approximate on Trino).
    pub quantiles: Vec<QuantileValue>,
    pub top_values: Vec<ValueCount>,
    /// The statements that produced the profile.
    pub sql: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QuantileValue {
    pub q: f64,
    pub value: Option<f64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ValueCount {
    pub value: Value,
    pub count: f64,
}

pub struct ProfileColumn {
    aggregates: Aggregates,
}

impl ProfileColumn {
    pub fn new(aggregates: Aggregates) -> Self {
        Self { aggregates }
    }

    fn window(&self, params: &Params) -> Result<Option<(i64, i64)>, ToolError> {
        let invalid = |message: String| ToolError::InvalidParams {
            tool: Self::NAME,
            message,
        };
        match (&params.time_column, &params.since, &params.until) {
            (None, None, None) => Ok(None),
            (None, _, _) => Err(invalid("since/until need a time_column".into())),
            (Some(_), since, until) => {
                time::parse_range(since.as_deref(), until.as_deref(), ("since", "until"))
                    .map(Some)
                    .map_err(invalid)
            }
        }
    }
}

impl TypedTool for ProfileColumn {
    type Params = Params;
    type Output = Output;
    const NAME: &'static str = "profile_column";
    const TITLE: &'static str = "Profile a column";
    const DESCRIPTION: &'static str = "Profile one column with aggregates computed by the \
        warehouse (no raw rows are read out): row count, nulls and null rate, distinct values, \
        min/max, mean, standard deviation and quantiles (numeric columns), and the most \
        frequent values. Optionally restricted to a time window of a timestamp column.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        self.window(params)?;
        Ok(serde_json::json!({ "table": params.table, "column": params.column }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<Output, ToolError> {
        let window = self.window(&params)?;
        let top = params.top.unwrap_or(10);
        if !(1..=100).contains(&top) {
            return Err(ToolError::InvalidParams {
                tool: Self::NAME,
                message: format!("top must be between 1 and 100, not {top}"),
            });
        }
        let failed = |e: super::sql::SqlFailure| ToolError::Failed(e.message);
        let table = self
            .aggregates
            .describe(ctx, &params.table)
            .await
            .map_err(failed)?;
        let column = find_column(&table, &params.column).map_err(ToolError::Failed)?;
        let name = quote_ident(&column.name);
        let mut filter = "1 = 1".to_string();
        if let (Some(time), Some((since, until))) = (&params.time_column, window) {
            let time = time_column(&table, time).map_err(ToolError::Failed)?;
            let epoch = self.aggregates.epoch(&time.name);
            filter = format!("{epoch} >= {since} AND {epoch} < {until}");
        }
        let numeric = classify(&column.data_type) == ColumnClass::Numeric;
        let mut select = vec![
            "count(*)".to_string(),
            format!("count({name})"),
            format!("count(DISTINCT {name})"),
        ];
        if numeric {
            let value = self.aggregates.double(&column.name);
            select.push(format!("min({value})"));
            select.push(format!("max({value})"));
            select.push(format!("avg({value})"));
            select.push(format!("stddev_samp({value})"));
            select.extend(
                QUANTILES
                    .iter()
                    .map(|q| self.aggregates.quantile(&value, *q)),
            );
        } else {
            select.push(format!("CAST(min({name}) AS varchar)"));
            select.push(format!("CAST(max({name}) AS varchar)"));
        }
        let stats_sql = format!(
            "SELECT {} FROM {} WHERE {filter}",
            select.join(", "),
            quote_table(&table)
        );
        let stats = self
            .aggregates
            .query(ctx, &stats_sql, 1)
            .await
            .map_err(failed)?;
        let row = stats.rows.first().cloned().unwrap_or_default();
        let cell = |i: usize| row.get(i).cloned().unwrap_or(Value::Null);
        let number = |i: usize| row.get(i).and_then(cell_f64);
        let top_sql = format!(
            "SELECT {name} AS value, count(*) AS n FROM {} WHERE {filter} AND {name} IS NOT NULL \
             GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {top}",
            quote_table(&table)
        );
        let top_values = self
            .aggregates
            .query(ctx, &top_sql, top)
            .await
            .map_err(failed)?;
        let rows = number(0).unwrap_or(0.0);
        let non_null = number(1).unwrap_or(0.0);
        Ok(Output {
            table: format!("{}.{}", table.schema, table.name),
            column: column.name.clone(),
            data_type: column.data_type.clone(),
            rows,
            nulls: rows - non_null,
            null_rate: (rows > 0.0).then(|| (rows - non_null) / rows),
            distinct: number(2).unwrap_or(0.0),
            min: cell(3),
            max: cell(4),
            mean: if numeric { number(5) } else { None },
            stddev: if numeric { number(6) } else { None },
            quantiles: if numeric {
                QUANTILES
                    .iter()
                    .enumerate()
                    .map(|(i, q)| QuantileValue {
                        q: *q,
                        value: number(7 + i),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            top_values: top_values
                .rows
                .into_iter()
                .map(|r| ValueCount {
                    count: r.get(1).and_then(cell_f64).unwrap_or(0.0),
                    value: r.into_iter().next().unwrap_or(Value::Null),
                })
                .collect(),
            sql: vec![stats_sql, top_sql],
        })
    }
}
