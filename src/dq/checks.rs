//! Data-quality checks as declared in config (`[[checks]]`, or a `dq.checks_file`): the raw
//! TOML shape, validation into typed [`Check`]s with defaults, durations like "6h", and the
//! severity rules (`[[dq.severity]]`) that turn an anomaly into P0-P3.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::divergence::{DEFAULT_EPSILON, DEFAULT_MODERATE_PSI, DEFAULT_SIGNIFICANT_PSI};

/// One `[[checks]]` entry exactly as written; validated by [`resolve_checks`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub kind: Option<String>,
    pub name: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub columns: Option<Vec<String>>,
    pub time_column: Option<String>,
    pub bucket: Option<String>,
    pub history: Option<String>,
    pub threshold: Option<f64>,
    pub max_lag: Option<String>,
    pub max_rate: Option<f64>,
    pub window: Option<String>,
    pub max_duplicates: Option<u64>,
    pub current: Option<String>,
    pub reference: Option<String>,
    pub bins: Option<usize>,
    pub epsilon: Option<f64>,
    pub moderate: Option<f64>,
    pub significant: Option<f64>,
    pub categorical: Option<bool>,
    pub severity: Option<String>,
}

/// One `[[dq.severity]]` rule as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeverityRule {
    /// `schema.table`, `schema.*` or `*`.
    pub table: Option<String>,
    /// Check kind; any when absent.
    pub kind: Option<String>,
    pub severity: Option<String>,
}

/// Severity of a finding: P0 (page now) .. P3 (look when convenient).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum Severity {
    P0,
    P1,
    P2,
    P3,
}

impl Severity {
    /// One level more urgent (P0 stays P0).
    pub fn escalated(self) -> Self {
        match self {
            Self::P0 | Self::P1 => Self::P0,
            Self::P2 => Self::P1,
            Self::P3 => Self::P2,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::P0 => "P0",
            Self::P1 => "P1",
            Self::P2 => "P2",
            Self::P3 => "P3",
        })
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "P0" => Ok(Self::P0),
            "P1" => Ok(Self::P1),
            "P2" => Ok(Self::P2),
            "P3" => Ok(Self::P3),
            _ => Err(format!("{s:?} is not a severity (P0, P1, P2 or P3)")),
        }
    }
}

/// Width of the time buckets a check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    pub fn seconds(self) -> i64 {
        match self {
            Self::Hour => 3_600,
            Self::Day => 86_400,
        }
    }
}

/// What a check measures, with its settings resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    /// Rows per bucket vs history (robust z with weekday seasonality).
    Volume {
        time_column: String,
        bucket: Bucket,
        history_secs: i64,
        threshold: f64,
    },
    /// Age of the newest row vs an SLA.
    Freshness {
        time_column: String,
        max_lag_secs: i64,
    },
    /// Share of NULLs in a column: vs an absolute bound, or per bucket vs history.
    NullRate {
        column: String,
        time_column: Option<String>,
        bucket: Bucket,
        history_secs: i64,
        max_rate: Option<f64>,
        threshold: f64,
    },
    /// Keys that occur more than once.
    Uniqueness {
        columns: Vec<String>,
        time_column: Option<String>,
        window_secs: Option<i64>,
        max_duplicates: u64,
    },
    /// Columns added, removed or retyped since the accepted snapshot.
    Schema,
    /// PSI / KL between a reference window and the current window.
    Distribution {
        column: String,
        time_column: String,
        current_secs: i64,
        reference_secs: i64,
        bins: usize,
        epsilon: f64,
        moderate: f64,
        significant: f64,
        /// `None`: decided from the column type.
        categorical: Option<bool>,
    },
}

impl CheckKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Volume { .. } => "volume",
            Self::Freshness { .. } => "freshness",
            Self::NullRate { .. } => "null_rate",
            Self::Uniqueness { .. } => "uniqueness",
            Self::Schema => "schema",
            Self::Distribution { .. } => "distribution",
        }
    }

    /// The column a finding is about, when there is one.
    pub fn column(&self) -> Option<String> {
        match self {
            Self::NullRate { column, .. } | Self::Distribution { column, .. } => {
                Some(column.clone())
            }
            Self::Uniqueness { columns, .. } => Some(columns.join(",")),
            Self::Freshness { time_column, .. } => Some(time_column.clone()),
            Self::Volume { .. } | Self::Schema => None,
        }
    }
}

/// A validated check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable identity: the configured `name`, else `kind:table[:column]`. Findings and schema
    /// snapshots are keyed by it.
    pub name: String,
    pub table: String,
    #[serde(flatten)]
    pub kind: CheckKind,
    /// Configured severity of an anomaly; else from the rules.
    pub severity: Option<Severity>,
}

/// A validated severity rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeverityRule {
    pub table: String,
    pub kind: Option<String>,
    pub severity: Severity,
}

/// Severity of a finding: the check's own, else the first matching rule, else the kind's
/// default (freshness, volume, uniqueness P1; null_rate, schema, distribution P2). A
/// measurement at twice the threshold or more is escalated one level.
pub fn severity_for(check: &Check, rules: &[SeverityRule], twice_threshold: bool) -> Severity {
    let base = check.severity.unwrap_or_else(|| {
        rules
            .iter()
            .find(|rule| {
                table_matches(&rule.table, &check.table)
                    && rule.kind.as_deref().is_none_or(|k| k == check.kind.name())
            })
            .map(|rule| rule.severity)
            .unwrap_or(match check.kind {
                CheckKind::Freshness { .. }
                | CheckKind::Volume { .. }
                | CheckKind::Uniqueness { .. } => Severity::P1,
                CheckKind::NullRate { .. } | CheckKind::Schema | CheckKind::Distribution { .. } => {
                    Severity::P2
                }
            })
    });
    if twice_threshold {
        base.escalated()
    } else {
        base
    }
}

fn table_matches(pattern: &str, table: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => table.starts_with(prefix),
        None => pattern.eq_ignore_ascii_case(table),
    }
}

/// Parses "90d", "6h", "30m", "45s" (one number and one unit) into seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().map_err(|_| {
        format!("{text:?} is not a duration like \"90d\", \"6h\", \"30m\" or \"45s\"")
    })?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => {
            return Err(format!(
                "{text:?} is not a duration like \"90d\", \"6h\", \"30m\" or \"45s\""
            ));
        }
    };
    if number <= 0 {
        return Err(format!("{text:?} must be longer than zero"));
    }
    number
        .checked_mul(unit_secs)
        .ok_or_else(|| format!("{text:?} is too long"))
}

/// Validates every `[[checks]]` entry; the error names the entry (`checks[2]`) and the field.
pub fn resolve_checks(raw: Vec<RawCheck>) -> Result<Vec<Check>, (String, String)> {
    let mut checks: Vec<Check> = Vec::with_capacity(raw.len());
    for (index, entry) in raw.into_iter().enumerate() {
        let key = format!("checks[{index}]");
        let check = resolve_check(entry).map_err(|(field, message)| {
            let key = if field.is_empty() {
                key.clone()
            } else {
                format!("{key}.{field}")
            };
            (key, message)
        })?;
        if checks.iter().any(|c| c.name == check.name) {
            return Err((
                format!("{key}.name"),
                format!(
                    "another check is already called {:?}; give one a distinct `name`",
                    check.name
                ),
            ));
        }
        checks.push(check);
    }
    Ok(checks)
}

/// Validates every `[[dq.severity]]` rule.
pub fn resolve_severity_rules(
    raw: Vec<RawSeverityRule>,
) -> Result<Vec<SeverityRule>, (String, String)> {
    raw.into_iter()
        .enumerate()
        .map(|(index, rule)| {
            let key = format!("dq.severity[{index}]");
            let severity = rule
                .severity
                .ok_or_else(|| (format!("{key}.severity"), "is required".to_string()))?
                .parse()
                .map_err(|e| (format!("{key}.severity"), e))?;
            if let Some(kind) = &rule.kind
                && !KINDS.contains(&kind.as_str())
            {
                return Err((format!("{key}.kind"), unknown_kind(kind)));
            }
            Ok(SeverityRule {
                table: rule.table.unwrap_or_else(|| "*".into()),
                kind: rule.kind,
                severity,
            })
        })
        .collect()
}

const KINDS: [&str; 6] = [
    "volume",
    "freshness",
    "null_rate",
    "uniqueness",
    "schema",
    "distribution",
];

fn unknown_kind(kind: &str) -> String {
    format!(
        "unknown check kind {kind:?}; expected one of {}",
        KINDS.join(", ")
    )
}

type FieldError = (String, String);

fn required<T>(value: Option<T>, field: &str) -> Result<T, FieldError> {
    value.ok_or_else(|| {
        (
            field.to_string(),
            "is required for this kind of check".into(),
        )
    })
}

fn duration(value: Option<String>, field: &str, default: &str) -> Result<i64, FieldError> {
    parse_duration(value.as_deref().unwrap_or(default)).map_err(|e| (field.to_string(), e))
}

fn bucket(value: Option<String>) -> Result<Bucket, FieldError> {
    match value.as_deref().unwrap_or("day") {
        "day" => Ok(Bucket::Day),
        "hour" => Ok(Bucket::Hour),
        other => Err((
            "bucket".into(),
            format!("{other:?} is not a bucket; use \"day\" or \"hour\""),
        )),
    }
}

fn positive(value: f64, field: &str) -> Result<f64, FieldError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err((
            field.into(),
            format!("must be a number above 0, not {value}"),
        ))
    }
}

fn resolve_check(raw: RawCheck) -> Result<Check, FieldError> {
    let kind_name = required(raw.kind.clone(), "kind")?;
    let table = required(raw.table.clone(), "table")?;
    if !table.contains('.') {
        return Err((
            "table".into(),
            format!("{table:?} must be qualified with its schema (e.g. \"raw.payments\")"),
        ));
    }
    let severity = raw
        .severity
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| ("severity".to_string(), e))?;
    let mut used: Vec<&'static str> = vec!["kind", "name", "table", "severity"];
    let kind = match kind_name.as_str() {
        "volume" => {
            used.extend(["time_column", "bucket", "history", "threshold"]);
            CheckKind::Volume {
                time_column: required(raw.time_column.clone(), "time_column")?,
                bucket: bucket(raw.bucket.clone())?,
                history_secs: duration(raw.history.clone(), "history", "56d")?,
                threshold: positive(raw.threshold.unwrap_or(3.5), "threshold")?,
            }
        }
        "freshness" => {
            used.extend(["time_column", "max_lag"]);
            CheckKind::Freshness {
                time_column: required(raw.time_column.clone(), "time_column")?,
                max_lag_secs: duration(
                    Some(required(raw.max_lag.clone(), "max_lag")?),
                    "max_lag",
                    "",
                )?,
            }
        }
        "null_rate" => {
            used.extend([
                "column",
                "time_column",
                "bucket",
                "history",
                "max_rate",
                "threshold",
            ]);
            if let Some(rate) = raw.max_rate
                && !(0.0..=1.0).contains(&rate)
            {
                return Err((
                    "max_rate".into(),
                    format!("must be a share between 0 and 1, not {rate}"),
                ));
            }
            if raw.time_column.is_none() && raw.max_rate.is_none() {
                return Err((
                    "max_rate".into(),
                    "is required when there is no time_column to build a history from".into(),
                ));
            }
            CheckKind::NullRate {
                column: required(raw.column.clone(), "column")?,
                time_column: raw.time_column.clone(),
                bucket: bucket(raw.bucket.clone())?,
                history_secs: duration(raw.history.clone(), "history", "28d")?,
                max_rate: raw.max_rate,
                threshold: positive(raw.threshold.unwrap_or(4.0), "threshold")?,
            }
        }
        "uniqueness" => {
            used.extend(["columns", "time_column", "window", "max_duplicates"]);
            let columns = required(raw.columns.clone(), "columns")?;
            if columns.is_empty() {
                return Err(("columns".into(), "must name at least one column".into()));
            }
            if raw.window.is_some() != raw.time_column.is_some() {
                return Err((
                    "window".into(),
                    "window and time_column go together (rows whose time_column is within \
                     the window)"
                        .into(),
                ));
            }
            CheckKind::Uniqueness {
                columns,
                time_column: raw.time_column.clone(),
                window_secs: raw
                    .window
                    .clone()
                    .map(|w| duration(Some(w), "window", ""))
                    .transpose()?,
                max_duplicates: raw.max_duplicates.unwrap_or(0),
            }
        }
        "schema" => CheckKind::Schema,
        "distribution" => {
            used.extend([
                "column",
                "time_column",
                "current",
                "reference",
                "bins",
                "epsilon",
                "moderate",
                "significant",
                "categorical",
            ]);
            let bins = raw.bins.unwrap_or(10);
            if !(2..=100).contains(&bins) {
                return Err((
                    "bins".into(),
                    format!("must be between 2 and 100, not {bins}"),
                ));
            }
            let moderate = positive(raw.moderate.unwrap_or(DEFAULT_MODERATE_PSI), "moderate")?;
            let significant = positive(
                raw.significant.unwrap_or(DEFAULT_SIGNIFICANT_PSI),
                "significant",
            )?;
            if significant < moderate {
                return Err((
                    "significant".into(),
                    format!("must be at least `moderate` ({moderate})"),
                ));
            }
            CheckKind::Distribution {
                column: required(raw.column.clone(), "column")?,
                time_column: required(raw.time_column.clone(), "time_column")?,
                current_secs: duration(raw.current.clone(), "current", "1d")?,
                reference_secs: duration(raw.reference.clone(), "reference", "28d")?,
                bins,
                epsilon: positive(raw.epsilon.unwrap_or(DEFAULT_EPSILON), "epsilon")?,
                moderate,
                significant,
                categorical: raw.categorical,
            }
        }
        other => return Err(("kind".into(), unknown_kind(other))),
    };
    if let Some(field) = set_fields(&raw).into_iter().find(|f| !used.contains(f)) {
        return Err((
            field.to_string(),
            format!("does not apply to a {kind_name} check"),
        ));
    }
    let name = raw.name.clone().unwrap_or_else(|| match kind.column() {
        Some(column) if !matches!(kind, CheckKind::Freshness { .. }) => {
            format!("{kind_name}:{table}:{column}")
        }
        _ => format!("{kind_name}:{table}"),
    });
    Ok(Check {
        name,
        table,
        kind,
        severity,
    })
}

/// Names of the fields an entry sets, so settings that do nothing for its kind are refused.
fn set_fields(raw: &RawCheck) -> Vec<&'static str> {
    let fields: [(&'static str, bool); 21] = [
        ("kind", raw.kind.is_some()),
        ("name", raw.name.is_some()),
        ("table", raw.table.is_some()),
        ("column", raw.column.is_some()),
        ("columns", raw.columns.is_some()),
        ("time_column", raw.time_column.is_some()),
        ("bucket", raw.bucket.is_some()),
        ("history", raw.history.is_some()),
        ("threshold", raw.threshold.is_some()),
        ("max_lag", raw.max_lag.is_some()),
        ("max_rate", raw.max_rate.is_some()),
        ("window", raw.window.is_some()),
        ("max_duplicates", raw.max_duplicates.is_some()),
        ("current", raw.current.is_some()),
        ("reference", raw.reference.is_some()),
        ("bins", raw.bins.is_some()),
        ("epsilon", raw.epsilon.is_some()),
        ("moderate", raw.moderate.is_some()),
        ("significant", raw.significant.is_some()),
        ("categorical", raw.categorical.is_some()),
        ("severity", raw.severity.is_some()),
    ];
    fields
        .into_iter()
        .filter(|(_, set)| *set)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn parse(text: &str) -> Result<Vec<Check>, (String, String)> {
        #[derive(Deserialize)]
        struct Doc {
            checks: Vec<RawCheck>,
        }
        let doc: Doc = toml::from_str(text).map_err(|e| ("toml".into(), e.to_string()))?;
        resolve_checks(doc.checks)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration("6h"), Ok(21_600));
        assert_eq!(parse_duration("30m"), Ok(1_800));
        assert_eq!(parse_duration("2w"), Ok(1_209_600));
        assert!(
            parse_duration("0d")
                .unwrap_err()
                .contains("longer than zero")
        );
        assert!(
            parse_duration("6 hours")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn checks_resolve_with_defaults_and_names() {
        let checks = parse(
            r#"
            [[checks]]
            kind = "volume"
            table = "raw.events"
            time_column = "event_time"

            [[checks]]
            kind = "null_rate"
            table = "raw.payments"
            column = "method"
            time_column = "paid_at"
            severity = "p1"
            "#,
        )
        .unwrap();
        assert_eq!(
            checks,
            vec![
                Check {
                    name: "volume:raw.events".into(),
                    table: "raw.events".into(),
                    kind: CheckKind::Volume {
                        time_column: "event_time".into(),
                        bucket: Bucket::Day,
                        history_secs: 56 * 86_400,
                        threshold: 3.5,
                    },
                    severity: None,
                },
                Check {
                    name: "null_rate:raw.payments:method".into(),
                    table: "raw.payments".into(),
                    kind: CheckKind::NullRate {
                        column: "method".into(),
                        time_column: Some("paid_at".into()),
                        bucket: Bucket::Day,
                        history_secs: 28 * 86_400,
                        max_rate: None,
                        threshold: 4.0,
                    },
                    severity: Some(Severity::P1),
                },
            ]
        );
    }

    #[test]
    fn bad_entries_name_the_entry_and_field() {
        let cases = [
            (
                "kind = \"volumes\"\ntable = \"a.b\"",
                "checks[0].kind",
                "unknown check kind \"volumes\"; expected one of volume, freshness, null_rate, \
                 uniqueness, schema, distribution",
            ),
            (
                "kind = \"volume\"\ntable = \"b\"\ntime_column = \"t\"",
                "checks[0].table",
                "\"b\" must be qualified with its schema (e.g. \"raw.payments\")",
            ),
            (
                "kind = \"freshness\"\ntable = \"a.b\"\ntime_column = \"t\"",
                "checks[0].max_lag",
                "is required for this kind of check",
            ),
            (
                "kind = \"schema\"\ntable = \"a.b\"\nbins = 4",
                "checks[0].bins",
                "does not apply to a schema check",
            ),
            (
                "kind = \"null_rate\"\ntable = \"a.b\"\ncolumn = \"c\"",
                "checks[0].max_rate",
                "is required when there is no time_column to build a history from",
            ),
            (
                "kind = \"distribution\"\ntable = \"a.b\"\ncolumn = \"c\"\ntime_column = \"t\"\nbins = 1",
                "checks[0].bins",
                "must be between 2 and 100, not 1",
            ),
            (
                "kind = \"volume\"\ntable = \"a.b\"\ntime_column = \"t\"\nseverity = \"high\"",
                "checks[0].severity",
                "\"high\" is not a severity (P0, P1, P2 or P3)",
            ),
            (
                "kind = \"volume\"\ntable = \"a.b\"\ntime_column = \"t\"\nbucket = \"week\"",
                "checks[0].bucket",
                "\"week\" is not a bucket; use \"day\" or \"hour\"",
            ),
        ];
        for (entry, key, message) in cases {
            assert_eq!(
                parse(&format!("[[checks]]\n{entry}")),
                Err((key.to_string(), message.to_string())),
                "{entry}"
            );
        }
        let duplicate = "[[checks]]\nkind = \"schema\"\ntable = \"a.b\"\n\
                         [[checks]]\nkind = \"schema\"\ntable = \"a.b\"";
        assert_eq!(
            parse(duplicate).unwrap_err().0,
            "checks[1].name".to_string()
        );
    }

    #[test]
    fn severity_rules_then_defaults_then_escalation() {
        let check = |kind: CheckKind, table: &str| Check {
            name: "x".into(),
            table: table.into(),
            kind,
            severity: None,
        };
        let rules = resolve_severity_rules(vec![
            RawSeverityRule {
                table: Some("gold.*".into()),
                kind: Some("schema".into()),
                severity: Some("P0".into()),
            },
            RawSeverityRule {
                table: Some("raw.events".into()),
                kind: None,
                severity: Some("P3".into()),
            },
        ])
        .unwrap();
        assert_eq!(
            severity_for(&check(CheckKind::Schema, "gold.orders"), &rules, false),
            Severity::P0
        );
        assert_eq!(
            severity_for(&check(CheckKind::Schema, "raw.events"), &rules, false),
            Severity::P3
        );
        assert_eq!(
            severity_for(&check(CheckKind::Schema, "raw.events"), &rules, true),
            Severity::P2
        );
        assert_eq!(
            severity_for(&check(CheckKind::Schema, "raw.other"), &rules, false),
            Severity::P2
        );
        let mut own = check(CheckKind::Schema, "gold.orders");
        own.severity = Some(Severity::P3);
        assert_eq!(severity_for(&own, &rules, false), Severity::P3);
        let bad = resolve_severity_rules(vec![RawSeverityRule {
            table: None,
            kind: Some("nulls".into()),
            severity: Some("P1".into()),
        }]);
        assert_eq!(bad.unwrap_err().0, "dq.severity[0].kind");
    }
}
