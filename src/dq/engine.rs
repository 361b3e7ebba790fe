//! Runs configured checks against the warehouse at an instant (`as_of`): each check becomes one
//! [`CheckResult`] — ok, anomaly (with the numbers, window, threshold and SQL behind it) or
//! check_error (bad table/column/type, empty window, history too short). One check's failure
//! never stops the others.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Value, json};
use steward_tools::tool::CallContext;
use steward_tools::warehouse::TableDescription;

use super::checks::{Check, CheckKind, Severity, SeverityRule, severity_for};
use super::distribution::{CompareOptions, Sample, TimeWindow};
use super::divergence::DriftBand;
use super::sql::{
    Aggregates, SqlFailure, cell_f64, find_column, first_f64, quote_ident, quote_table, time_column,
};
use super::store::{DqStore, FindingRef};
use super::time;
use super::volume::{Baseline, VolumeConfig, VolumeDetector};

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Anomaly,
    CheckError,
}

/// One check's result, with everything needed to act on it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct CheckResult {
    pub check: String,
    pub kind: String,
    pub table: String,
    pub column: Option<String>,
    pub status: Status,
    /// Set for anomalies and check errors.
    pub severity: Option<Severity>,
    /// One readable sentence with the numbers.
    pub message: String,
    /// The window measured, RFC 3339 (`[start, end)`).
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// The measured value (rows, seconds of lag, null share, duplicate keys, changes, PSI).
    pub metric: Option<f64>,
    /// What it was compared with (median of history, SLA, ...).
    pub baseline: Option<f64>,
    pub threshold: Option<f64>,
    /// The statements that produced the numbers, to rerun by hand.
    pub evidence_sql: Vec<String>,
    /// Check-specific detail (z, MAD, histogram, schema changes...).
    pub details: Value,
    /// The stored finding, for anomalies and check errors once recorded.
    pub finding: Option<FindingRef>,
}

/// Runs checks with the statistics computed by the warehouse.
#[derive(Clone)]
pub struct Engine {
    aggregates: Aggregates,
    store: DqStore,
    rules: Vec<SeverityRule>,
}

/// The numbers a check produced before severity is assigned.
struct Measured {
    anomalous: bool,
    /// Measurement at twice the threshold or more: escalate one level.
    strong: bool,
    /// Moderate drift: one level less urgent.
    mild: bool,
    message: String,
    window: Option<(i64, i64)>,
    metric: Option<f64>,
    baseline: Option<f64>,
    threshold: Option<f64>,
    sql: Vec<String>,
    details: Value,
}

impl Engine {
    pub fn new(aggregates: Aggregates, store: DqStore, rules: Vec<SeverityRule>) -> Self {
        Self {
            aggregates,
            store,
            rules,
        }
    }

    pub fn aggregates(&self) -> &Aggregates {
        &self.aggregates
    }

    /// Runs `checks` one after another and records each result as a finding (or resolves the
    /// check's open findings when it passes). Each table is described once per run, however
    /// many checks it has. Only a storage failure stops the run.
    pub async fn run_and_record(
        &self,
        ctx: &CallContext,
        checks: &[Check],
        as_of: i64,
    ) -> Result<Vec<CheckResult>, sqlx::Error> {
        let mut tables: HashMap<&str, Result<TableDescription, SqlFailure>> = HashMap::new();
        let mut results = Vec::with_capacity(checks.len());
        for check in checks {
            let table = match tables.entry(&check.table) {
                Entry::Occupied(described) => described.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(self.aggregates.describe(ctx, &check.table).await)
                }
            };
            let table = table.as_ref().map_err(Clone::clone);
            let mut result = self.run(ctx, check, table, as_of).await;
            result.finding = self.store.record(&result).await?;
            results.push(result);
        }
        Ok(results)
    }

    /// Makes the table's current columns the accepted schema of a schema check; returns how
    /// many columns were recorded.
    pub async fn accept_schema(&self, ctx: &CallContext, check: &Check) -> Result<usize, String> {
        if check.kind != CheckKind::Schema {
            return Err(format!(
                "{} is a {} check; only schema checks have an accepted schema",
                check.name,
                check.kind.name()
            ));
        }
        let table = self
            .aggregates
            .describe(ctx, &check.table)
            .await
            .map_err(|e| e.message)?;
        let snapshot = super::store::SchemaSnapshot::of(&table);
        self.store
            .accept_schema(&check.name, &check.table, &snapshot)
            .await
            .map_err(|e| format!("recording the schema failed: {e}"))?;
        Ok(snapshot.columns.len())
    }

    /// Runs one check on its described `table`; every failure becomes a `check_error` result.
    async fn run(
        &self,
        ctx: &CallContext,
        check: &Check,
        table: Result<&TableDescription, SqlFailure>,
        as_of: i64,
    ) -> CheckResult {
        let measured = match table {
            Ok(table) => self.measure(ctx, check, table, as_of).await,
            Err(failure) => Err(failure),
        };
        let base = CheckResult {
            check: check.name.clone(),
            kind: check.kind.name().to_string(),
            table: check.table.clone(),
            column: check.kind.column(),
            status: Status::Ok,
            severity: None,
            message: String::new(),
            window_start: None,
            window_end: None,
            metric: None,
            baseline: None,
            threshold: None,
            evidence_sql: Vec::new(),
            details: Value::Null,
            finding: None,
        };
        match measured {
            Err(failure) => CheckResult {
                status: Status::CheckError,
                severity: Some(check.severity.unwrap_or(Severity::P3)),
                message: failure.message,
                evidence_sql: failure.sql.into_iter().collect(),
                ..base
            },
            Ok(m) => {
                let severity = m.anomalous.then(|| {
                    let severity = severity_for(check, &self.rules, m.strong);
                    if m.mild { relaxed(severity) } else { severity }
                });
                CheckResult {
                    status: if m.anomalous {
                        Status::Anomaly
                    } else {
                        Status::Ok
                    },
                    severity,
                    message: m.message,
                    window_start: m.window.map(|(s, _)| time::format(s)),
                    window_end: m.window.map(|(_, e)| time::format(e)),
                    metric: m.metric,
                    baseline: m.baseline,
                    threshold: m.threshold,
                    evidence_sql: m.sql,
                    details: m.details,
                    ..base
                }
            }
        }
    }

    async fn measure(
        &self,
        ctx: &CallContext,
        check: &Check,
        table: &TableDescription,
        as_of: i64,
    ) -> Result<Measured, SqlFailure> {
        match &check.kind {
            CheckKind::Volume {
                time_column,
                bucket,
                history_secs,
                threshold,
            } => {
                self.volume(
                    ctx,
                    table,
                    time_column,
                    bucket.seconds(),
                    *history_secs,
                    *threshold,
                    as_of,
                )
                .await
            }
            CheckKind::Freshness {
                time_column,
                max_lag_secs,
            } => {
                self.freshness(ctx, table, time_column, *max_lag_secs, as_of)
                    .await
            }
            CheckKind::NullRate {
                column,
                time_column: Some(time),
                bucket,
                history_secs,
                max_rate,
                threshold,
            } => {
                self.null_rate_history(
                    ctx,
                    table,
                    column,
                    time,
                    bucket.seconds(),
                    *history_secs,
                    *max_rate,
                    *threshold,
                    as_of,
                )
                .await
            }
            CheckKind::NullRate {
                column,
                time_column: None,
                max_rate,
                ..
            } => {
                self.null_rate_whole(ctx, table, column, max_rate.unwrap_or(0.0))
                    .await
            }
            CheckKind::Uniqueness {
                columns,
                time_column,
                window_secs,
                max_duplicates,
            } => {
                let window = match (time_column, window_secs) {
                    (Some(column), Some(secs)) => Some(TimeWindow {
                        column: column.clone(),
                        start: as_of - secs,
                        end: as_of,
                    }),
                    _ => None,
                };
                self.uniqueness(ctx, table, columns, window, *max_duplicates)
                    .await
            }
            CheckKind::Schema => self.schema(check, table).await,
            CheckKind::Distribution {
                column,
                time_column,
                current_secs,
                reference_secs,
                bins,
                epsilon,
                moderate,
                significant,
                categorical,
            } => {
                let current_start = as_of - current_secs;
                let sample = |start, end| Sample {
                    table: table.clone(),
                    window: Some(TimeWindow {
                        column: time_column.clone(),
                        start,
                        end,
                    }),
                };
                let comparison = self
                    .aggregates
                    .compare(
                        ctx,
                        column,
                        &sample(current_start - reference_secs, current_start),
                        &sample(current_start, as_of),
                        CompareOptions {
                            bins: *bins,
                            epsilon: *epsilon,
                            moderate: *moderate,
                            significant: *significant,
                            categorical: *categorical,
                        },
                    )
                    .await?;
                let band = comparison.band;
                Ok(Measured {
                    anomalous: band != DriftBand::Stable,
                    strong: comparison.psi >= 2.0 * significant,
                    mild: band == DriftBand::Moderate,
                    message: format!(
                        "{column}: PSI {:.3} ({}; bands {moderate} / {significant}), KL {:.3}, \
                         {} current vs {} reference values",
                        comparison.psi,
                        serde_json::to_value(band)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default(),
                        comparison.kl,
                        comparison.current_count,
                        comparison.reference_count
                    ),
                    window: Some((current_start, as_of)),
                    metric: Some(comparison.psi),
                    baseline: None,
                    threshold: Some(*moderate),
                    sql: comparison.sql.clone(),
                    details: json!({
                        "kl": comparison.kl,
                        "band": band,
                        "binning": comparison.binning,
                        "reference_window": [time::format(current_start - reference_secs), time::format(current_start)],
                        "buckets": comparison.buckets,
                    }),
                })
            }
        }
    }

    /// Rows per bucket, zero-filled, from the first non-empty bucket up to the last complete
    /// bucket before `as_of`; the last one is judged against the rest.
    #[allow(clippy::too_many_arguments)]
    async fn volume(
        &self,
        ctx: &CallContext,
        table: &TableDescription,
        time: &str,
        bucket: i64,
        history: i64,
        threshold: f64,
        as_of: i64,
    ) -> Result<Measured, SqlFailure> {
        let time = time_column(table, time)
            .map_err(SqlFailure::new)?
            .name
            .as_str();
        let end = as_of.div_euclid(bucket) * bucket;
        let start = end - history - bucket;
        let epoch = self.aggregates.epoch(time);
        let sql = format!(
            "SELECT floor({epoch} / {bucket}) * {bucket} AS bucket, count(*) AS n FROM {} \
             WHERE {epoch} >= {start} AND {epoch} < {end} GROUP BY 1 ORDER BY 1",
            quote_table(table)
        );
        let rows = self.bucket_rows(ctx, &sql, start, end, bucket).await?;
        let series: Vec<(i64, f64)> = rows
            .iter()
            .map(|(t, row)| (*t, row.first().copied().unwrap_or(0.0)))
            .skip_while(|(_, n)| *n == 0.0)
            .collect();
        let config = VolumeConfig {
            threshold,
            ..VolumeConfig::default()
        };
        let window = (end - bucket, end);
        let no_history = || SqlFailure {
            message: format!(
                "no rows in {}.{} with {time} in [{}, {})",
                table.schema,
                table.name,
                time::format(start),
                time::format(end)
            ),
            sql: Some(sql.clone()),
        };
        if series.is_empty() {
            return Err(no_history());
        }
        let evidence = VolumeDetector::new(config.clone())
            .explain(&series, series.len() - 1)
            .ok_or_else(|| SqlFailure {
                message: format!(
                    "history too short for a baseline: {} bucket(s) of data before {}, need at \
                     least {}",
                    series.len().saturating_sub(1),
                    time::format(window.0),
                    config.min_history
                ),
                sql: Some(sql.clone()),
            })?;
        let change = if evidence.median != 0.0 {
            format!(
                " ({:+.0}%)",
                (evidence.value - evidence.median) / evidence.median * 100.0
            )
        } else {
            String::new()
        };
        Ok(Measured {
            anomalous: evidence.anomalous,
            strong: evidence.abs_z >= 2.0 * threshold,
            mild: false,
            message: format!(
                "{} rows in [{}, {}) vs a median of {} over {} {}{change}: robust z {:.1} \
                 (threshold {threshold})",
                evidence.value,
                time::format(window.0),
                time::format(window.1),
                evidence.median,
                evidence.history_points,
                baseline_words(evidence.baseline),
                evidence.z,
            ),
            window: Some(window),
            metric: Some(evidence.value),
            baseline: Some(evidence.median),
            threshold: Some(threshold),
            sql: vec![sql],
            details: json!({
                "z": evidence.z,
                "mad": evidence.mad,
                "scale": evidence.scale,
                "baseline": evidence.baseline,
                "history_points": evidence.history_points,
                "series_tail": series.iter().rev().take(14).rev()
                    .map(|(t, n)| json!([time::format(*t), n])).collect::<Vec<_>>(),
            }),
        })
    }

    async fn freshness(
        &self,
        ctx: &CallContext,
        table: &TableDescription,
        time: &str,
        max_lag: i64,
        as_of: i64,
    ) -> Result<Measured, SqlFailure> {
        let time = time_column(table, time)
            .map_err(SqlFailure::new)?
            .name
            .as_str();
        let epoch = self.aggregates.epoch(time);
        let sql = format!(
            "SELECT max({epoch}) AS newest FROM {} WHERE {epoch} <= {as_of}",
            quote_table(table)
        );
        let result = self.aggregates.query(ctx, &sql, 1).await?;
        let newest = first_f64(&result, 0).ok_or_else(|| SqlFailure {
            message: format!(
                "no rows in {}.{} with {time} at or before {}",
                table.schema,
                table.name,
                time::format(as_of)
            ),
            sql: Some(sql.clone()),
        })?;
        let lag = as_of as f64 - newest;
        Ok(Measured {
            anomalous: lag > max_lag as f64,
            strong: lag >= 2.0 * max_lag as f64,
            mild: false,
            message: format!(
                "newest {time} is {} old at {} (SLA {})",
                human_duration(lag),
                time::format(as_of),
                human_duration(max_lag as f64)
            ),
            window: Some((newest as i64, as_of)),
            metric: Some(lag),
            baseline: None,
            threshold: Some(max_lag as f64),
            sql: vec![sql],
            details: json!({ "newest": time::format(newest as i64) }),
        })
    }

    /// Null share per bucket; the last complete bucket against `max_rate` or the history.
    #[allow(clippy::too_many_arguments)]
    async fn null_rate_history(
        &self,
        ctx: &CallContext,
        table: &TableDescription,
        column: &str,
        time: &str,
        bucket: i64,
        history: i64,
        max_rate: Option<f64>,
        threshold: f64,
        as_of: i64,
    ) -> Result<Measured, SqlFailure> {
        let column = find_column(table, column)
            .map_err(SqlFailure::new)?
            .name
            .clone();
        let time = time_column(table, time)
            .map_err(SqlFailure::new)?
            .name
            .as_str();
        let end = as_of.div_euclid(bucket) * bucket;
        let start = end - history - bucket;
        let epoch = self.aggregates.epoch(time);
        let sql = format!(
            "SELECT floor({epoch} / {bucket}) * {bucket} AS bucket, count(*) AS n, \
             count(*) - count({}) AS nulls FROM {} WHERE {epoch} >= {start} AND {epoch} < {end} \
             GROUP BY 1 ORDER BY 1",
            quote_ident(&column),
            quote_table(table)
        );
        let rows = self.bucket_rows(ctx, &sql, start, end, bucket).await?;
        let window = (end - bucket, end);
        let (rows_now, nulls_now) = rows
            .last()
            .map(|(_, r)| {
                (
                    r.first().copied().unwrap_or(0.0),
                    r.get(1).copied().unwrap_or(0.0),
                )
            })
            .unwrap_or((0.0, 0.0));
        if rows_now == 0.0 {
            return Err(SqlFailure {
                message: format!(
                    "no rows in {}.{} with {time} in [{}, {}): the null rate of an empty window \
                     is undefined",
                    table.schema,
                    table.name,
                    time::format(window.0),
                    time::format(window.1)
                ),
                sql: Some(sql),
            });
        }
        let rate = nulls_now / rows_now;
        let series: Vec<(i64, f64)> = rows
            .iter()
            .filter_map(|(t, r)| match (r.first(), r.get(1)) {
                (Some(&n), Some(&nulls)) if n > 0.0 => Some((*t, nulls / n)),
                _ => None,
            })
            .collect();
        let counts = format!("{nulls_now} of {rows_now} rows");
        let span = format!("[{}, {})", time::format(window.0), time::format(window.1));
        if let Some(max_rate) = max_rate {
            return Ok(Measured {
                anomalous: rate > max_rate,
                strong: rate >= 2.0 * max_rate && max_rate > 0.0,
                mild: false,
                message: format!(
                    "{column} is NULL in {:.2}% ({counts}) in {span}; allowed {:.2}%",
                    rate * 100.0,
                    max_rate * 100.0
                ),
                window: Some(window),
                metric: Some(rate),
                baseline: None,
                threshold: Some(max_rate),
                sql: vec![sql],
                details: json!({ "rows": rows_now, "nulls": nulls_now }),
            });
        }
        // Null shares: a floor of half a percentage point stops a perfectly clean history from
        // flagging a single NULL; no weekday seasonality (nulls rarely follow the calendar).
        let config = VolumeConfig {
            threshold,
            min_history: 7,
            seasonal_weeks: 0,
            daily_days: 0,
            mad_floor: 0.005,
            mad_floor_rel: 0.1,
            ..VolumeConfig::default()
        };
        let evidence = VolumeDetector::new(config.clone())
            .explain(&series, series.len().saturating_sub(1))
            .ok_or_else(|| SqlFailure {
                message: format!(
                    "history too short for a baseline: {} non-empty bucket(s) before {}, need \
                     at least {}",
                    series.len().saturating_sub(1),
                    time::format(window.0),
                    config.min_history
                ),
                sql: Some(sql.clone()),
            })?;
        // Only a rise in NULLs is a problem.
        let anomalous = evidence.anomalous && evidence.z > 0.0;
        Ok(Measured {
            anomalous,
            strong: anomalous && evidence.abs_z >= 2.0 * threshold,
            mild: false,
            message: format!(
                "{column} is NULL in {:.2}% ({counts}) in {span} vs a median of {:.2}% over {} \
                 buckets: robust z {:.1} (threshold {threshold})",
                rate * 100.0,
                evidence.median * 100.0,
                evidence.history_points,
                evidence.z
            ),
            window: Some(window),
            metric: Some(rate),
            baseline: Some(evidence.median),
            threshold: Some(threshold),
            sql: vec![sql],
            details: json!({
                "rows": rows_now,
                "nulls": nulls_now,
                "z": evidence.z,
                "mad": evidence.mad,
                "scale": evidence.scale,
            }),
        })
    }

    async fn null_rate_whole(
        &self,
        ctx: &CallContext,
        table: &TableDescription,
        column: &str,
        max_rate: f64,
    ) -> Result<Measured, SqlFailure> {
        let column = find_column(table, column)
            .map_err(SqlFailure::new)?
            .name
            .clone();
        let sql = format!(
            "SELECT count(*) AS n, count(*) - count({}) AS nulls FROM {}",
            quote_ident(&column),
            quote_table(table)
        );
        let result = self.aggregates.query(ctx, &sql, 1).await?;
        let rows = first_f64(&result, 0).unwrap_or(0.0);
        let nulls = first_f64(&result, 1).unwrap_or(0.0);
        if rows == 0.0 {
            return Err(SqlFailure {
                message: format!(
                    "{}.{} is empty: the null rate of no rows is undefined",
                    table.schema, table.name
                ),
                sql: Some(sql),
            });
        }
        let rate = nulls / rows;
        Ok(Measured {
            anomalous: rate > max_rate,
            strong: max_rate > 0.0 && rate >= 2.0 * max_rate,
            mild: false,
            message: format!(
                "{column} is NULL in {:.2}% ({nulls} of {rows} rows); allowed {:.2}%",
                rate * 100.0,
                max_rate * 100.0
            ),
            window: None,
            metric: Some(rate),
            baseline: None,
            threshold: Some(max_rate),
            sql: vec![sql],
            details: json!({ "rows": rows, "nulls": nulls }),
        })
    }

    async fn uniqueness(
        &self,
        ctx: &CallContext,
        table: &TableDescription,
        columns: &[String],
        window: Option<TimeWindow>,
        max_duplicates: u64,
    ) -> Result<Measured, SqlFailure> {
        let mut keys = Vec::with_capacity(columns.len());
        for column in columns {
            keys.push(quote_ident(
                &find_column(table, column).map_err(SqlFailure::new)?.name,
            ));
        }
        let mut filter: Vec<String> = keys.iter().map(|k| format!("{k} IS NOT NULL")).collect();
        if let Some(w) = &window {
            let time = time_column(table, &w.column).map_err(SqlFailure::new)?;
            let epoch = self.aggregates.epoch(&time.name);
            filter.push(format!("{epoch} >= {} AND {epoch} < {}", w.start, w.end));
        }
        let grouped = format!(
            "SELECT {keys}, count(*) AS n FROM {} WHERE {} GROUP BY {keys} HAVING count(*) > 1",
            quote_table(table),
            filter.join(" AND "),
            keys = keys.join(", ")
        );
        let sql = format!(
            "SELECT count(*) AS duplicate_keys, COALESCE(sum(n), 0) AS rows_with_duplicate_keys \
             FROM ({grouped}) AS duplicates"
        );
        let result = self.aggregates.query(ctx, &sql, 1).await?;
        let duplicate_keys = first_f64(&result, 0).unwrap_or(0.0);
        let duplicate_rows = first_f64(&result, 1).unwrap_or(0.0);
        let mut sqls = vec![sql];
        let mut examples = Vec::new();
        if duplicate_keys > 0.0 {
            let examples_sql = format!("{grouped} ORDER BY n DESC LIMIT 5");
            let result = self.aggregates.query(ctx, &examples_sql, 5).await?;
            examples = result.rows;
            sqls.push(examples_sql);
        }
        let key = columns.join(", ");
        Ok(Measured {
            anomalous: duplicate_keys > max_duplicates as f64,
            strong: duplicate_keys > 0.0 && duplicate_keys >= 2.0 * (max_duplicates.max(1) as f64),
            mild: false,
            message: format!(
                "{} key value(s) of ({key}) occur more than once ({} rows); allowed {max_duplicates}",
                duplicate_keys, duplicate_rows
            ),
            window: window.as_ref().map(|w| (w.start, w.end)),
            metric: Some(duplicate_keys),
            baseline: None,
            threshold: Some(max_duplicates as f64),
            sql: sqls,
            details: json!({ "rows_with_duplicate_keys": duplicate_rows, "examples": examples }),
        })
    }

    /// Compares the columns with the accepted snapshot; the first run records it.
    async fn schema(
        &self,
        check: &Check,
        table: &TableDescription,
    ) -> Result<Measured, SqlFailure> {
        let current = super::store::SchemaSnapshot::of(table);
        let accepted = self
            .store
            .schema_snapshot(&check.name)
            .await
            .map_err(|e| SqlFailure::new(e.to_string()))?;
        let Some(accepted) = accepted else {
            self.store
                .accept_schema(&check.name, &check.table, &current)
                .await
                .map_err(|e| SqlFailure::new(e.to_string()))?;
            return Ok(Measured {
                anomalous: false,
                strong: false,
                mild: false,
                message: format!(
                    "first run: recorded {} columns as the accepted schema",
                    current.columns.len()
                ),
                window: None,
                metric: Some(0.0),
                baseline: None,
                threshold: Some(0.0),
                sql: Vec::new(),
                details: json!({ "columns": current.columns }),
            });
        };
        let changes = accepted.diff(&current);
        Ok(Measured {
            anomalous: !changes.is_empty(),
            strong: false,
            mild: false,
            message: if changes.is_empty() {
                format!("{} columns, as accepted", current.columns.len())
            } else {
                format!(
                    "{} change(s) since the accepted schema: {}; accept with `steward check \
                     --accept-schema {}`",
                    changes.len(),
                    changes
                        .iter()
                        .map(|c| c.summary())
                        .collect::<Vec<_>>()
                        .join("; "),
                    check.name
                )
            },
            window: None,
            metric: Some(changes.len() as f64),
            baseline: None,
            threshold: Some(0.0),
            sql: Vec::new(),
            details: json!({ "changes": changes }),
        })
    }

    /// `(bucket start, [value columns...])` for every bucket in `[start, end)`, zero-filled.
    async fn bucket_rows(
        &self,
        ctx: &CallContext,
        sql: &str,
        start: i64,
        end: i64,
        bucket: i64,
    ) -> Result<Vec<(i64, Vec<f64>)>, SqlFailure> {
        let buckets = ((end - start) / bucket) as usize;
        let result = self.aggregates.query(ctx, sql, buckets + 1).await?;
        let width = result.columns.len().saturating_sub(1);
        let mut rows: Vec<(i64, Vec<f64>)> = (0..buckets)
            .map(|i| (start + i as i64 * bucket, vec![0.0; width]))
            .collect();
        for row in &result.rows {
            let Some(t) = row.first().and_then(cell_f64) else {
                continue;
            };
            let index = ((t as i64 - start) / bucket) as usize;
            if let Some((_, values)) = rows.get_mut(index) {
                *values = row[1..]
                    .iter()
                    .map(|v| cell_f64(v).unwrap_or(0.0))
                    .collect();
            }
        }
        Ok(rows)
    }
}

fn relaxed(severity: Severity) -> Severity {
    match severity {
        Severity::P0 => Severity::P1,
        Severity::P1 => Severity::P2,
        Severity::P2 | Severity::P3 => Severity::P3,
    }
}

fn baseline_words(baseline: Baseline) -> &'static str {
    match baseline {
        Baseline::WeekdayHour => "earlier buckets on the same weekday",
        Baseline::HourOfDay => "earlier buckets at the same hour",
        Baseline::Recent => "recent buckets",
    }
}

/// "2d 4h", "35m", "12s".
pub fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as i64;
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3_600,
        secs % 3_600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}
