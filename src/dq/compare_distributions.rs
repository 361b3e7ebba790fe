//! `compare_distributions`: PSI and KL divergence of one column between two samples — two time
//! windows of a table, or two tables — with the bucket counts behind them.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use super::distribution::{CompareOptions, Comparison, Sample, TimeWindow};
use super::divergence::{DEFAULT_EPSILON, DEFAULT_MODERATE_PSI, DEFAULT_SIGNIFICANT_PSI};
use super::sql::Aggregates;
use super::time;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Column compared (same name in both samples).
    pub column: String,
    /// The baseline sample.
    pub reference: SampleParams,
    /// The sample checked for drift.
    pub current: SampleParams,
    /// Buckets: quantile bins for numeric columns, top values (+ "other") for categorical
    /// ones. Default 10, between 2 and 100.
    #[serde(default)]
    pub bins: Option<usize>,
    /// Force categorical (true) or numeric (false) binning; by column type when absent.
    #[serde(default)]
    pub categorical: Option<bool>,
}

/// A table, optionally restricted to `start <= time_column < end`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SampleParams {
    /// `schema.table`.
    pub table: String,
    /// Timestamp or date column for the window; the whole table when absent.
    #[serde(default)]
    pub time_column: Option<String>,
    /// RFC 3339 instant or date (UTC), inclusive.
    #[serde(default)]
    pub start: Option<String>,
    /// RFC 3339 instant or date (UTC), exclusive.
    #[serde(default)]
    pub end: Option<String>,
}

pub struct CompareDistributions {
    aggregates: Aggregates,
}

impl CompareDistributions {
    pub fn new(aggregates: Aggregates) -> Self {
        Self { aggregates }
    }

    fn window(&self, side: &str, p: &SampleParams) -> Result<Option<TimeWindow>, ToolError> {
        let invalid = |message: String| ToolError::InvalidParams {
            tool: Self::NAME,
            message: format!("{side}: {message}"),
        };
        let Some(column) = &p.time_column else {
            if p.start.is_some() || p.end.is_some() {
                return Err(invalid("start/end need a time_column".into()));
            }
            return Ok(None);
        };
        let (start, end) =
            time::parse_range(p.start.as_deref(), p.end.as_deref(), ("start", "end"))
                .map_err(invalid)?;
        Ok(Some(TimeWindow {
            column: column.clone(),
            start,
            end,
        }))
    }
}

impl TypedTool for CompareDistributions {
    type Params = Params;
    type Output = Comparison;
    const NAME: &'static str = "compare_distributions";
    const TITLE: &'static str = "Compare distributions (PSI / KL)";
    const DESCRIPTION: &'static str = "Compare one column's distribution between a reference \
        and a current sample (two time windows of a table, or two tables): Population Stability \
        Index, KL divergence, the drift band (stable < 0.1 <= moderate < 0.25 <= significant) \
        and the per-bucket counts. Numeric columns are binned at the reference's quantiles, \
        categorical ones by its top values plus \"other\". Histograms are computed by the \
        warehouse.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        self.window("reference", &params.reference)?;
        self.window("current", &params.current)?;
        Ok(serde_json::json!({
            "column": params.column,
            "tables": [params.reference.table, params.current.table],
        }))
    }

    async fn run(&self, ctx: &CallContext, params: Params) -> Result<Comparison, ToolError> {
        let bins = params.bins.unwrap_or(10);
        if !(2..=100).contains(&bins) {
            return Err(ToolError::InvalidParams {
                tool: Self::NAME,
                message: format!("bins must be between 2 and 100, not {bins}"),
            });
        }
        let mut samples: Vec<Sample> = Vec::with_capacity(2);
        for (side, p) in [
            ("reference", &params.reference),
            ("current", &params.current),
        ] {
            let window = self.window(side, p)?;
            // Two windows of one table (the usual case) need one description.
            let table = match samples.first() {
                Some(first) if params.reference.table == p.table => first.table.clone(),
                _ => self
                    .aggregates
                    .describe(ctx, &p.table)
                    .await
                    .map_err(|e| ToolError::Failed(format!("{side}: {}", e.message)))?,
            };
            samples.push(Sample { table, window });
        }
        let options = CompareOptions {
            bins,
            epsilon: DEFAULT_EPSILON,
            moderate: DEFAULT_MODERATE_PSI,
            significant: DEFAULT_SIGNIFICANT_PSI,
            categorical: params.categorical,
        };
        self.aggregates
            .compare(ctx, &params.column, &samples[0], &samples[1], options)
            .await
            .map_err(|e| ToolError::Failed(e.message))
    }
}
