//! Compares a column's distribution between two samples (two time windows of one table, or two
//! tables) with PSI and KL: numeric columns binned by reference quantiles, categorical columns by
//! the reference's top values plus "other". Histograms are computed by the warehouse.

use schemars::JsonSchema;
use serde::Serialize;
use steward_tools::tool::CallContext;
use steward_tools::warehouse::TableDescription;

use super::divergence::{DriftBand, kl, psi};
use super::sql::{
    Aggregates, ColumnClass, SqlFailure, cell_f64, classify, find_column, number, quote_table,
    time_column,
};

/// One side of a comparison: a table, optionally restricted to `start <= time < end`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub table: TableDescription,
    pub window: Option<TimeWindow>,
}

/// Rows whose `column` (a timestamp or date) is in `[start, end)`, in Unix seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeWindow {
    pub column: String,
    pub start: i64,
    pub end: i64,
}

/// How buckets were formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Binning {
    /// Numeric column, buckets at the reference's quantiles.
    Quantiles,
    /// Categorical column, the reference's top values plus "other".
    TopValues,
}

/// One bucket's counts on both sides.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct BucketCounts {
    /// `(-inf, 12.5]`, `(12.5, 40]`, `(40, +inf)` or a category (`"other"` last).
    pub bucket: String,
    pub reference: f64,
    pub current: f64,
}

/// PSI / KL between the two samples, with the histogram behind them.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Comparison {
    pub column: String,
    pub binning: Binning,
    /// Non-null values in the reference sample.
    pub reference_count: f64,
    /// Non-null values in the current sample.
    pub current_count: f64,
    pub psi: f64,
    /// KL(current || reference): information lost describing the current data by the reference.
    pub kl: f64,
    /// stable (< moderate), moderate or significant (>= significant).
    pub band: DriftBand,
    pub buckets: Vec<BucketCounts>,
    /// The statements that produced the counts.
    pub sql: Vec<String>,
}

/// Settings of a comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompareOptions {
    pub bins: usize,
    pub epsilon: f64,
    pub moderate: f64,
    pub significant: f64,
    /// Force categorical (`true`) or numeric (`false`) binning; by column type when `None`.
    pub categorical: Option<bool>,
}

impl Aggregates {
    /// Compares `column` between `reference` and `current`; errors name the sample and column.
    pub async fn compare(
        &self,
        ctx: &CallContext,
        column: &str,
        reference: &Sample,
        current: &Sample,
        options: CompareOptions,
    ) -> Result<Comparison, SqlFailure> {
        let ref_column = find_column(&reference.table, column).map_err(SqlFailure::new)?;
        let cur_column = find_column(&current.table, column).map_err(SqlFailure::new)?;
        // Windows by their time columns' own names (a name may match in another case).
        let resolve = |sample: &Sample| -> Result<Sample, SqlFailure> {
            let mut sample = sample.clone();
            if let Some(window) = &mut sample.window {
                window.column = time_column(&sample.table, &window.column)
                    .map_err(SqlFailure::new)?
                    .name
                    .clone();
            }
            Ok(sample)
        };
        let (reference, current) = (&resolve(reference)?, &resolve(current)?);
        let class = classify(&ref_column.data_type);
        let binning = match (options.categorical, class) {
            (Some(true), _) | (None, ColumnClass::Other) => Binning::TopValues,
            (Some(false) | None, ColumnClass::Numeric) => Binning::Quantiles,
            (Some(false), _) => {
                return Err(SqlFailure::new(format!(
                    "column {column:?} is {}: numeric binning needs a numeric column (set \
                     categorical = true to compare its values)",
                    ref_column.data_type
                )));
            }
            (None, ColumnClass::Time) => {
                return Err(SqlFailure::new(format!(
                    "column {column:?} is {}: distribution checks take numeric or categorical \
                     columns (use a freshness or volume check for time columns)",
                    ref_column.data_type
                )));
            }
        };
        if binning == Binning::Quantiles && classify(&cur_column.data_type) != ColumnClass::Numeric
        {
            return Err(SqlFailure::new(format!(
                "column {column:?} is numeric in {} but {} in {}",
                describe(reference),
                cur_column.data_type,
                describe(current)
            )));
        }
        let column = ref_column.name.clone();
        let mut sql = Vec::new();
        let (labels, ref_counts, cur_counts) = match binning {
            Binning::Quantiles => {
                self.quantile_histograms(ctx, &column, reference, current, options.bins, &mut sql)
                    .await?
            }
            Binning::TopValues => {
                self.top_value_histograms(ctx, &column, reference, current, options.bins, &mut sql)
                    .await?
            }
        };
        let reference_count: f64 = ref_counts.iter().sum();
        let current_count: f64 = cur_counts.iter().sum();
        for (sample, count) in [(reference, reference_count), (current, current_count)] {
            if count == 0.0 {
                return Err(SqlFailure {
                    message: format!("{} has no non-null values of {column:?}", describe(sample)),
                    sql: sql.last().cloned(),
                });
            }
        }
        let psi_value = psi(&ref_counts, &cur_counts, options.epsilon);
        Ok(Comparison {
            column,
            binning,
            reference_count,
            current_count,
            psi: psi_value,
            kl: kl(&cur_counts, &ref_counts, options.epsilon),
            band: DriftBand::from_psi_with(psi_value, options.moderate, options.significant),
            buckets: labels
                .into_iter()
                .zip(ref_counts.iter().zip(&cur_counts))
                .map(|(bucket, (r, c))| BucketCounts {
                    bucket,
                    reference: *r,
                    current: *c,
                })
                .collect(),
            sql,
        })
    }

    /// Edges at the reference quantiles, then one `CASE` histogram per sample.
    async fn quantile_histograms(
        &self,
        ctx: &CallContext,
        column: &str,
        reference: &Sample,
        current: &Sample,
        bins: usize,
        sql: &mut Vec<String>,
    ) -> Result<(Vec<String>, Vec<f64>, Vec<f64>), SqlFailure> {
        let value = self.double(column);
        let quantiles: Vec<String> = (1..bins)
            .map(|k| self.quantile(&value, k as f64 / bins as f64))
            .collect();
        let edges_sql = format!(
            "SELECT {} FROM {} WHERE {}",
            quantiles.join(", "),
            quote_table(&reference.table),
            self.filter(reference, column)
        );
        let result = self.query(ctx, &edges_sql, 1).await?;
        sql.push(edges_sql);
        let mut edges: Vec<f64> = result
            .rows
            .first()
            .map(|row| row.iter().filter_map(cell_f64).collect())
            .unwrap_or_default();
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        let mut labels = Vec::with_capacity(edges.len() + 1);
        let mut lower = "-inf".to_string();
        for edge in &edges {
            labels.push(format!("({lower}, {edge}]"));
            lower = edge.to_string();
        }
        labels.push(format!("({lower}, +inf)"));
        let case = if edges.is_empty() {
            "0".to_string()
        } else {
            let arms: Vec<String> = edges
                .iter()
                .enumerate()
                .map(|(i, e)| format!("WHEN {value} <= {} THEN {i}", number(*e)))
                .collect();
            format!("CASE {} ELSE {} END", arms.join(" "), edges.len())
        };
        let mut counts = Vec::with_capacity(2);
        for sample in [reference, current] {
            let histogram_sql = format!(
                "SELECT {case} AS bucket, count(*) AS n FROM {} WHERE {} GROUP BY 1",
                quote_table(&sample.table),
                self.filter(sample, column)
            );
            let result = self.query(ctx, &histogram_sql, edges.len() + 1).await?;
            sql.push(histogram_sql);
            let mut per_bucket = vec![0.0; edges.len() + 1];
            for row in &result.rows {
                let bucket = row.first().and_then(cell_f64).unwrap_or(-1.0);
                if let Some(slot) = per_bucket.get_mut(bucket as usize)
                    && bucket >= 0.0
                {
                    *slot += row.get(1).and_then(cell_f64).unwrap_or(0.0);
                }
            }
            counts.push(per_bucket);
        }
        let current_counts = counts.pop().unwrap_or_default();
        let reference_counts = counts.pop().unwrap_or_default();
        Ok((labels, reference_counts, current_counts))
    }

    /// The reference's top values, each sample's counts of them, and the rest as "other".
    async fn top_value_histograms(
        &self,
        ctx: &CallContext,
        column: &str,
        reference: &Sample,
        current: &Sample,
        top_k: usize,
        sql: &mut Vec<String>,
    ) -> Result<(Vec<String>, Vec<f64>, Vec<f64>), SqlFailure> {
        let text = format!("CAST({} AS varchar)", super::sql::quote_ident(column));
        let top_sql = format!(
            "SELECT {text} AS value, count(*) AS n FROM {} WHERE {} GROUP BY 1 \
             ORDER BY 2 DESC, 1 LIMIT {top_k}",
            quote_table(&reference.table),
            self.filter(reference, column)
        );
        let top = self.query(ctx, &top_sql, top_k).await?;
        sql.push(top_sql);
        let values: Vec<String> = top
            .rows
            .iter()
            .filter_map(|row| row.first()?.as_str().map(str::to_string))
            .collect();
        let mut counts = Vec::with_capacity(2);
        for sample in [reference, current] {
            let listed = if values.is_empty() {
                "NULL".to_string()
            } else {
                values
                    .iter()
                    .map(|v| super::sql::quote_literal(v))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let counts_sql = format!(
                "SELECT CASE WHEN {text} IN ({listed}) THEN {text} END AS value, count(*) AS n \
                 FROM {} WHERE {} GROUP BY 1",
                quote_table(&sample.table),
                self.filter(sample, column)
            );
            let result = self.query(ctx, &counts_sql, values.len() + 1).await?;
            sql.push(counts_sql);
            let mut per_bucket = vec![0.0; values.len() + 1];
            for row in &result.rows {
                let n = row.get(1).and_then(cell_f64).unwrap_or(0.0);
                let slot = row
                    .first()
                    .and_then(|v| v.as_str())
                    .and_then(|v| values.iter().position(|known| known == v))
                    .unwrap_or(values.len());
                if let Some(count) = per_bucket.get_mut(slot) {
                    *count += n;
                }
            }
            counts.push(per_bucket);
        }
        let mut labels = values;
        labels.push("other".into());
        let current_counts = counts.pop().unwrap_or_default();
        let reference_counts = counts.pop().unwrap_or_default();
        Ok((labels, reference_counts, current_counts))
    }

    /// `column IS NOT NULL` plus the sample's time window.
    fn filter(&self, sample: &Sample, column: &str) -> String {
        let mut filter = format!("{} IS NOT NULL", super::sql::quote_ident(column));
        if let Some(window) = &sample.window {
            let epoch = self.epoch(&window.column);
            filter.push_str(&format!(
                " AND {epoch} >= {} AND {epoch} < {}",
                window.start, window.end
            ));
        }
        filter
    }
}

/// "raw.payments [2026-11-01T00:00:00Z, 2026-11-29T00:00:00Z)" for messages.
pub fn describe(sample: &Sample) -> String {
    let table = format!("{}.{}", sample.table.schema, sample.table.name);
    match &sample.window {
        Some(w) => format!(
            "{table} where {} in [{}, {})",
            w.column,
            super::time::format(w.start),
            super::time::format(w.end)
        ),
        None => table,
    }
}
