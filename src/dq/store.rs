//! Where data-quality results persist: findings deduplicated by fingerprint (one row per
//! ongoing anomaly, updated each run, resolved when the check passes) and the accepted schema
//! snapshot per schema check.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use steward_tools::warehouse::TableDescription;

use super::engine::{CheckResult, Status};

/// The finding a result was recorded as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct FindingRef {
    pub id: i64,
    /// First seen in this run (a new anomaly, not an update of an ongoing one).
    pub new: bool,
    /// Runs that have seen it so far.
    pub occurrences: i32,
}

/// One column as the schema check remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SnapshotColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    pub nullable: bool,
}

/// A table's columns at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaSnapshot {
    pub columns: Vec<SnapshotColumn>,
}

/// One difference between the accepted and the current schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct SchemaChange {
    /// added, removed, type_changed or nullability_changed.
    pub change: &'static str,
    pub column: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl SchemaChange {
    pub fn summary(&self) -> String {
        match (self.change, &self.before, &self.after) {
            ("added", _, Some(after)) => format!("{} added ({after})", self.column),
            ("removed", Some(before), _) => format!("{} removed (was {before})", self.column),
            (change, Some(before), Some(after)) => {
                format!("{} {change}: {before} -> {after}", self.column)
            }
            (change, _, _) => format!("{} {change}", self.column),
        }
    }
}

impl SchemaSnapshot {
    pub fn of(table: &TableDescription) -> Self {
        Self {
            columns: table
                .columns
                .iter()
                .map(|c| SnapshotColumn {
                    name: c.name.clone(),
                    data_type: c.data_type.clone(),
                    nullable: c.nullable,
                })
                .collect(),
        }
    }

    /// Changes from `self` (accepted) to `current`, in column order.
    pub fn diff(&self, current: &SchemaSnapshot) -> Vec<SchemaChange> {
        let find = |columns: &[SnapshotColumn], name: &str| {
            columns.iter().find(|c| c.name == name).cloned()
        };
        let mut changes = Vec::new();
        for old in &self.columns {
            match find(&current.columns, &old.name) {
                None => changes.push(SchemaChange {
                    change: "removed",
                    column: old.name.clone(),
                    before: Some(old.data_type.clone()),
                    after: None,
                }),
                Some(new) if new.data_type != old.data_type => changes.push(SchemaChange {
                    change: "type_changed",
                    column: old.name.clone(),
                    before: Some(old.data_type.clone()),
                    after: Some(new.data_type),
                }),
                Some(new) if new.nullable != old.nullable => changes.push(SchemaChange {
                    change: "nullability_changed",
                    column: old.name.clone(),
                    before: Some(nullability(old.nullable)),
                    after: Some(nullability(new.nullable)),
                }),
                Some(_) => {}
            }
        }
        for new in &current.columns {
            if find(&self.columns, &new.name).is_none() {
                changes.push(SchemaChange {
                    change: "added",
                    column: new.name.clone(),
                    before: None,
                    after: Some(new.data_type.clone()),
                });
            }
        }
        changes
    }
}

fn nullability(nullable: bool) -> String {
    if nullable { "NULL" } else { "NOT NULL" }.to_string()
}

/// Findings and snapshots in Steward's storage.
#[derive(Clone)]
pub struct DqStore {
    pool: PgPool,
}

impl DqStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Records an anomaly or check error (one open finding per check and kind, updated while
    /// it lasts) and resolves the check's other open findings; an ok result resolves them all.
    pub async fn record(&self, result: &CheckResult) -> Result<Option<FindingRef>, sqlx::Error> {
        let finding_kind = match result.status {
            Status::Ok => {
                resolve_open(&self.pool, &result.check, None).await?;
                return Ok(None);
            }
            Status::Anomaly => "anomaly",
            Status::CheckError => "check_error",
        };
        let fingerprint = fingerprint(&result.check, finding_kind);
        let severity = result
            .severity
            .map(|s| s.to_string())
            .unwrap_or_else(|| "P3".into());
        let mut tx = self.pool.begin().await?;
        let (id, occurrences, new): (i64, i32, bool) = sqlx::query_as(
            "INSERT INTO steward.dq_findings (fingerprint, check_name, check_kind, table_name, \
                 column_name, finding_kind, severity, message, window_start, window_end, metric, \
                 baseline, threshold, evidence_sql, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text::timestamptz, \
                 $10::text::timestamptz, $11, $12, $13, $14, $15) \
             ON CONFLICT (fingerprint) WHERE state = 'open' DO UPDATE SET \
                 severity = EXCLUDED.severity, message = EXCLUDED.message, \
                 window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, \
                 metric = EXCLUDED.metric, baseline = EXCLUDED.baseline, \
                 threshold = EXCLUDED.threshold, evidence_sql = EXCLUDED.evidence_sql, \
                 details = EXCLUDED.details, occurrences = dq_findings.occurrences + 1, \
                 last_seen_at = now() \
             RETURNING id, occurrences, (xmax = 0) AS inserted",
        )
        .bind(&fingerprint)
        .bind(&result.check)
        .bind(&result.kind)
        .bind(&result.table)
        .bind(&result.column)
        .bind(finding_kind)
        .bind(&severity)
        .bind(&result.message)
        .bind(&result.window_start)
        .bind(&result.window_end)
        .bind(result.metric.filter(|v| v.is_finite()))
        .bind(result.baseline.filter(|v| v.is_finite()))
        .bind(result.threshold.filter(|v| v.is_finite()))
        .bind(&result.evidence_sql)
        .bind(sqlx::types::Json(&result.details))
        .fetch_one(&mut *tx)
        .await?;
        resolve_open(&mut *tx, &result.check, Some(&fingerprint)).await?;
        tx.commit().await?;
        Ok(Some(FindingRef {
            id,
            new,
            occurrences,
        }))
    }

    /// The accepted snapshot of a schema check, if one was recorded.
    pub async fn schema_snapshot(
        &self,
        check: &str,
    ) -> Result<Option<SchemaSnapshot>, sqlx::Error> {
        let row: Option<(sqlx::types::Json<Vec<SnapshotColumn>>,)> =
            sqlx::query_as("SELECT columns FROM steward.dq_schema_snapshots WHERE check_name = $1")
                .bind(check)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(columns,)| SchemaSnapshot { columns: columns.0 }))
    }

    /// Makes `snapshot` the accepted schema of `check`.
    pub async fn accept_schema(
        &self,
        check: &str,
        table: &str,
        snapshot: &SchemaSnapshot,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO steward.dq_schema_snapshots (check_name, table_name, columns) \
             VALUES ($1, $2, $3) ON CONFLICT (check_name) DO UPDATE SET \
             table_name = EXCLUDED.table_name, columns = EXCLUDED.columns, accepted_at = now()",
        )
        .bind(check)
        .bind(table)
        .bind(sqlx::types::Json(&snapshot.columns))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Resolves the check's open findings, except the one with fingerprint `keep`.
async fn resolve_open<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    check: &str,
    keep: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE steward.dq_findings SET state = 'resolved', resolved_at = now() \
         WHERE check_name = $1 AND state = 'open' AND fingerprint IS DISTINCT FROM $2",
    )
    .bind(check)
    .bind(keep)
    .execute(executor)
    .await?;
    Ok(())
}

/// Identity of an ongoing finding: the check and whether it is an anomaly or an error, so the
/// same anomaly seen again updates its row instead of adding one.
pub fn fingerprint(check: &str, finding_kind: &str) -> String {
    let digest = Sha256::digest(format!("{check}\0{finding_kind}").as_bytes());
    hex::encode(&digest[..16])
}
