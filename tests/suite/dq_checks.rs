//! Data-quality checks on the real Postgres: the demo history's three injected anomalies are
//! found (and nothing else), findings are deduplicated across runs and resolved when fixed,
//! bad checks become check_error findings without stopping the others, schema drift, and the
//! profile / compare tools against values computed directly in SQL.

use std::process::Command;
use std::sync::Arc;

use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, PgPool};
use steward::config::Config;
use steward::dq::engine::{CheckResult, Engine, Status};
use steward::dq::sql::Aggregates;
use steward::dq::store::DqStore;
use steward::dq::time;
use steward_tools::{QueryLimits, Tool};

use crate::common::{TestDb, ctx, steward_bin};

const DQ_HISTORY: &str = include_str!("../../scripts/demo/dq_history.sql");
const DEMO_CHECKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo/checks.toml");
const AS_OF: &str = "2026-11-30";

/// The demo history loaded into the test database (psql meta-commands dropped).
async fn seed_history(db: &TestDb) -> PgPool {
    let pool = db.pool().await;
    let sql: String = DQ_HISTORY
        .lines()
        .filter(|line| !line.starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n");
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&pool)
        .await
        .unwrap();
    pool
}

fn config_with(db: &TestDb, toml: &str) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, toml).unwrap();
    (Config::load(Some(&path), &db.env()).unwrap(), dir)
}

fn engine(db: &TestDb, config: &Config, pool: PgPool) -> Engine {
    Engine::new(
        Aggregates::new(db.warehouse(), QueryLimits::default()),
        DqStore::new(pool),
        config.dq.severity_rules.clone(),
    )
}

async fn run(db: &TestDb, config: &Config, pool: &PgPool, as_of: &str) -> Vec<CheckResult> {
    engine(db, config, pool.clone())
        .run_and_record(&ctx(), &config.dq.checks, time::parse(as_of).unwrap())
        .await
        .unwrap()
}

fn by_name<'a>(results: &'a [CheckResult], name: &str) -> &'a CheckResult {
    results
        .iter()
        .find(|r| r.check == name)
        .unwrap_or_else(|| panic!("no result for {name}"))
}

fn statuses(results: &[CheckResult]) -> Vec<(String, Status, Option<String>)> {
    results
        .iter()
        .map(|r| (r.check.clone(), r.status, r.severity.map(|s| s.to_string())))
        .collect()
}

#[tokio::test]
async fn the_demo_history_anomalies_are_found_and_nothing_else() {
    let db = TestDb::new().await;
    let pool = seed_history(&db).await;
    let config = Config::load(Some(std::path::Path::new(DEMO_CHECKS)), &db.env()).unwrap();
    let results = run(&db, &config, &pool, AS_OF).await;
    let ok = |name: &str| (name.to_string(), Status::Ok, None);
    let anomaly = |name: &str, sev: &str| (name.to_string(), Status::Anomaly, Some(sev.into()));
    assert_eq!(
        statuses(&results),
        vec![
            anomaly("volume:raw.events", "P1"),
            ok("freshness:raw.events"),
            anomaly("null_rate:raw.payments:payment_method", "P1"),
            ok("null_rate:raw.payments:amount"),
            ok("uniqueness:raw.payments:payment_id"),
            anomaly("distribution:features.customer_scores:churn_risk", "P1"),
            ok("distribution:features.customer_scores:ltv_score"),
            ok("distribution:raw.payments:currency"),
            ok("schema:gold.orders"),
            ok("volume:gold.orders"),
        ]
    );
    // The numbers behind the volume finding, checked against the seeded rows.
    let volume = by_name(&results, "volume:raw.events");
    let (last_day,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM raw.events WHERE event_time >= '2026-11-29' AND event_time < '2026-11-30'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(volume.metric, Some(last_day as f64));
    assert_eq!(volume.window_start.as_deref(), Some("2026-11-29T00:00:00Z"));
    assert_eq!(volume.window_end.as_deref(), Some("2026-11-30T00:00:00Z"));
    assert_eq!(volume.threshold, Some(3.5));
    assert_eq!(volume.details["baseline"], json!("weekday_hour"));
    assert!(volume.details["z"].as_f64().unwrap() < -3.5);
    // Earlier Sundays are the baseline: their median is what the finding reports.
    let (sunday_median,): (f64,) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM (
             SELECT date_trunc('day', event_time AT TIME ZONE 'UTC') d, count(*)::float8 n
             FROM raw.events WHERE event_time < '2026-11-29' AND event_time >= '2026-11-29'::timestamptz - interval '8 weeks'
             AND extract(isodow FROM event_time AT TIME ZONE 'UTC') = 7 GROUP BY 1) s",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(volume.baseline, Some(sunday_median));

    let nulls = by_name(&results, "null_rate:raw.payments:payment_method");
    let (rows, null_rows): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) - count(payment_method) FROM raw.payments
         WHERE paid_at >= '2026-11-29' AND paid_at < '2026-11-30'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(nulls.metric, Some(null_rows as f64 / rows as f64));
    assert_eq!(nulls.details["rows"], json!(rows as f64));
    // Evidence SQL reruns by hand to the same numbers.
    let evidence: Vec<(f64, i64, i64)> =
        sqlx::query_as(AssertSqlSafe(nulls.evidence_sql[0].clone()))
            .fetch_all(&pool)
            .await
            .unwrap();
    let last = evidence.last().unwrap();
    assert_eq!((last.1, last.2), (rows, null_rows));

    let drift = by_name(&results, "distribution:features.customer_scores:churn_risk");
    assert!(drift.metric.unwrap() >= 0.25, "{drift:?}");
    assert_eq!(drift.details["band"], json!("significant"));
    assert_eq!(drift.details["buckets"].as_array().unwrap().len(), 10);
    assert_eq!(drift.evidence_sql.len(), 3);
}

#[tokio::test]
async fn a_finding_is_updated_while_it_lasts_and_resolved_when_fixed() {
    let db = TestDb::new().await;
    let pool = seed_history(&db).await;
    let (config, _dir) = config_with(
        &db,
        r#"
        [[checks]]
        kind = "null_rate"
        table = "raw.payments"
        column = "payment_method"
        time_column = "paid_at"
        "#,
    );
    let first = run(&db, &config, &pool, AS_OF).await.remove(0);
    let second = run(&db, &config, &pool, AS_OF).await.remove(0);
    assert_eq!(first.status, Status::Anomaly);
    let (a, b) = (first.finding.unwrap(), second.finding.unwrap());
    assert_eq!((a.new, a.occurrences), (true, 1));
    assert_eq!((b.id, b.new, b.occurrences), (a.id, false, 2));
    let open = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, String, i32)>(
            "SELECT id, state, occurrences FROM steward.dq_findings ORDER BY id",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    assert_eq!(open(pool.clone()).await, vec![(a.id, "open".into(), 2)]);

    // Fixed upstream: the check passes and the finding is resolved, not deleted.
    sqlx::query("UPDATE raw.payments SET payment_method = 'card' WHERE payment_method IS NULL AND paid_at >= '2026-11-29'")
        .execute(&pool)
        .await
        .unwrap();
    let fixed = run(&db, &config, &pool, AS_OF).await.remove(0);
    assert_eq!((fixed.status, fixed.finding.clone()), (Status::Ok, None));
    assert_eq!(open(pool.clone()).await, vec![(a.id, "resolved".into(), 2)]);

    // Broken again later: a new finding.
    sqlx::query(
        "UPDATE raw.payments SET payment_method = NULL WHERE paid_at >= '2026-11-29 12:00'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let again = run(&db, &config, &pool, AS_OF).await.remove(0);
    let c = again.finding.unwrap();
    assert!(c.new && c.id != a.id, "{c:?}");
    assert_eq!(
        open(pool).await,
        vec![(a.id, "resolved".into(), 2), (c.id, "open".into(), 1)]
    );
}

#[tokio::test]
async fn bad_checks_are_check_errors_and_the_others_still_run() {
    let db = TestDb::new().await;
    let pool = seed_history(&db).await;
    sqlx::raw_sql(
        "CREATE TABLE raw.young (t timestamptz NOT NULL, v int);
         INSERT INTO raw.young SELECT '2026-11-27'::timestamptz + i * interval '1 hour', i FROM generate_series(0, 71) i;
         CREATE TABLE raw.empty (t timestamptz NOT NULL, v int);",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (config, _dir) = config_with(
        &db,
        r#"
        [[checks]]
        kind = "volume"
        table = "raw.nope"
        time_column = "t"

        [[checks]]
        kind = "null_rate"
        table = "raw.payments"
        column = "methd"
        max_rate = 0.1

        [[checks]]
        kind = "volume"
        table = "raw.payments"
        time_column = "currency"

        [[checks]]
        kind = "volume"
        table = "raw.young"
        time_column = "t"

        [[checks]]
        kind = "freshness"
        table = "raw.empty"
        time_column = "t"
        max_lag = "1h"

        [[checks]]
        kind = "distribution"
        table = "raw.events"
        column = "event_time"
        time_column = "event_time"

        [[checks]]
        kind = "null_rate"
        table = "raw.young"
        column = "v"
        time_column = "t"

        [[checks]]
        kind = "uniqueness"
        table = "raw.payments"
        columns = ["payment_id"]
        "#,
    );
    let results = run(&db, &config, &pool, AS_OF).await;
    let got: Vec<(Status, &str)> = results
        .iter()
        .map(|r| (r.status, r.message.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Status::CheckError, "table \"raw.nope\" not found"),
            (
                Status::CheckError,
                "column \"methd\" not found in raw.payments; its columns are: payment_id, \
                 paid_at, amount, currency, payment_method"
            ),
            (
                Status::CheckError,
                "column \"currency\" of raw.payments is character(3), not a timestamp or date, \
                 so it cannot define time windows"
            ),
            (
                Status::CheckError,
                "history too short for a baseline: 2 bucket(s) of data before \
                 2026-11-29T00:00:00Z, need at least 14"
            ),
            (
                Status::CheckError,
                "no rows in raw.empty with t at or before 2026-11-30T00:00:00Z"
            ),
            (
                Status::CheckError,
                "column \"event_time\" is timestamp with time zone: distribution checks take \
                 numeric or categorical columns (use a freshness or volume check for time \
                 columns)"
            ),
            (
                Status::CheckError,
                "history too short for a baseline: 2 non-empty bucket(s) before \
                 2026-11-29T00:00:00Z, need at least 7"
            ),
            (
                Status::Ok,
                "0 key value(s) of (payment_id) occur more than once (0 rows); allowed 0"
            ),
        ]
    );
    let (errors,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM steward.dq_findings WHERE finding_kind = 'check_error' AND state = 'open' AND severity = 'P3'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(errors, 7);

    // A window with no rows: the young table seen from before it existed.
    let (config, _dir) = config_with(
        &db,
        r#"
        [[checks]]
        kind = "null_rate"
        table = "raw.young"
        column = "v"
        time_column = "t"
        max_rate = 0.5
        "#,
    );
    let empty = run(&db, &config, &pool, "2026-11-20").await.remove(0);
    assert_eq!(
        (empty.status, empty.message.as_str()),
        (
            Status::CheckError,
            "no rows in raw.young with t in [2026-11-19T00:00:00Z, 2026-11-20T00:00:00Z): the \
             null rate of an empty window is undefined"
        )
    );
}

#[tokio::test]
async fn schema_drift_is_reported_until_accepted() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let (config, _dir) = config_with(
        &db,
        "[[checks]]\nkind = \"schema\"\ntable = \"gold.orders\"\n",
    );
    let first = run(&db, &config, &pool, AS_OF).await.remove(0);
    assert_eq!(
        (first.status, first.message.as_str()),
        (
            Status::Ok,
            "first run: recorded 8 columns as the accepted schema"
        )
    );
    sqlx::raw_sql(
        "ALTER TABLE gold.orders ADD COLUMN coupon text;
         ALTER TABLE gold.orders ALTER COLUMN items TYPE bigint;
         ALTER TABLE gold.orders DROP COLUMN channel;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let drift = run(&db, &config, &pool, AS_OF).await.remove(0);
    assert_eq!(drift.status, Status::Anomaly);
    assert_eq!(drift.severity.map(|s| s.to_string()).as_deref(), Some("P2"));
    assert_eq!(
        drift.details["changes"],
        json!([
            {"change": "type_changed", "column": "items", "before": "integer", "after": "bigint"},
            {"change": "removed", "column": "channel", "before": "text", "after": null},
            {"change": "added", "column": "coupon", "before": null, "after": "text"},
        ])
    );
    assert_eq!(
        drift.message,
        "3 change(s) since the accepted schema: items type_changed: integer -> bigint; channel \
         removed (was text); coupon added (text); accept with `steward check --accept-schema \
         schema:gold.orders`"
    );
    // Still reported on the next run (same finding), until accepted.
    let again = run(&db, &config, &pool, AS_OF).await.remove(0);
    assert_eq!(again.finding.unwrap().occurrences, 2);
    let accepted = engine(&db, &config, pool.clone())
        .accept_schema(&ctx(), &config.dq.checks[0])
        .await
        .unwrap();
    assert_eq!(accepted, 8);
    let after = run(&db, &config, &pool, AS_OF).await.remove(0);
    assert_eq!(
        (after.status, after.message.as_str()),
        (Status::Ok, "8 columns, as accepted")
    );
}

#[tokio::test]
async fn duplicates_and_stale_data_are_anomalies_with_examples() {
    let db = TestDb::new().await;
    let pool = seed_history(&db).await;
    sqlx::raw_sql(
        "INSERT INTO raw.events SELECT event_id + 1000000, event_time, user_id, event_type FROM raw.events WHERE event_id <= 3;
         CREATE TABLE raw.dupes AS SELECT (event_id % 3) AS k, event_time FROM raw.events WHERE event_id <= 7;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let (config, _dir) = config_with(
        &db,
        r#"
        [[checks]]
        kind = "uniqueness"
        table = "raw.dupes"
        columns = ["k"]

        [[checks]]
        kind = "freshness"
        table = "raw.events"
        time_column = "event_time"
        max_lag = "1d"
        "#,
    );
    let results = run(&db, &config, &pool, "2026-12-03").await;
    let dupes = &results[0];
    assert_eq!(
        (dupes.status, dupes.metric, dupes.message.as_str()),
        (
            Status::Anomaly,
            Some(3.0),
            "3 key value(s) of (k) occur more than once (7 rows); allowed 0"
        )
    );
    assert_eq!(dupes.details["examples"], json!([[1, 3], [0, 2], [2, 2]]));
    let stale = &results[1];
    assert_eq!(stale.status, Status::Anomaly);
    assert_eq!(
        stale.message,
        "newest event_time is 3d 0h old at 2026-12-03T00:00:00Z (SLA 1d 0h)"
    );
    // Three times the SLA: escalated from the default P1.
    assert_eq!(stale.severity.map(|s| s.to_string()).as_deref(), Some("P0"));
}

fn tool(db: &TestDb, name: &str) -> Arc<dyn Tool> {
    let aggregates = Aggregates::new(db.warehouse(), QueryLimits::default());
    let tool: Arc<dyn Tool> = match name {
        "profile_column" => steward_tools::tool::register(
            steward::dq::profile_column::ProfileColumn::new(aggregates),
        ),
        "compare_distributions" => steward_tools::tool::register(
            steward::dq::compare_distributions::CompareDistributions::new(aggregates),
        ),
        other => panic!("no tool {other:?} in these tests"),
    };
    tool
}

#[tokio::test]
async fn profile_column_matches_sql_computed_directly() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let out = tool(&db, "profile_column")
        .call(
            &ctx(),
            json!({"table": "gold.orders", "column": "amount", "top": 3}),
        )
        .await
        .unwrap();
    let (n, distinct, min, max, median): (i64, i64, f64, f64, f64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT amount), min(amount)::float8, max(amount)::float8,
                percentile_cont(0.5) WITHIN GROUP (ORDER BY amount::float8) FROM gold.orders",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(out["rows"], json!(n as f64));
    assert_eq!(out["nulls"], json!(0.0));
    assert_eq!(out["null_rate"], json!(0.0));
    assert_eq!(out["distinct"], json!(distinct as f64));
    assert_eq!(
        (out["min"].as_f64(), out["max"].as_f64()),
        (Some(min), Some(max))
    );
    assert_eq!(out["quantiles"][3], json!({"q": 0.5, "value": median}));
    assert_eq!(out["top_values"].as_array().unwrap().len(), 3);

    // A time column named in another case is matched, and the SQL uses its real name.
    let windowed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM gold.orders WHERE ordered_at >= '2026-11-15'")
            .fetch_one(&pool)
            .await
            .unwrap();
    for time_column in ["ordered_at", "Ordered_At"] {
        let out = tool(&db, "profile_column")
            .call(
                &ctx(),
                json!({"table": "gold.orders", "column": "amount", "time_column": time_column,
                       "since": "2026-11-15"}),
            )
            .await
            .unwrap();
        assert_eq!(out["rows"], json!(windowed as f64), "{time_column}");
    }

    let text = tool(&db, "profile_column")
        .call(
            &ctx(),
            json!({"table": "gold.customers", "column": "country", "top": 2}),
        )
        .await
        .unwrap();
    let (nulls, top, top_n): (i64, String, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM gold.customers WHERE country IS NULL),
                country::text, count(*) FROM gold.customers WHERE country IS NOT NULL
         GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(text["nulls"], json!(nulls as f64));
    assert_eq!(
        text["top_values"][0],
        json!({"value": top, "count": top_n as f64})
    );
    assert_eq!(text["quantiles"], json!([]));

    for (args, message) in [
        (
            json!({"table": "gold.orders", "column": "amont"}),
            "column \"amont\" not found in gold.orders; its columns are: order_id, customer_id, \
             ordered_at, status, amount, currency, items, channel",
        ),
        (
            json!({"table": "gold.orders", "column": "amount", "time_column": "status", "since": "2026-11-01"}),
            "column \"status\" of gold.orders is text, not a timestamp or date, so it cannot \
             define time windows",
        ),
    ] {
        let err = tool(&db, "profile_column")
            .call(&ctx(), args)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    let err = tool(&db, "profile_column")
        .call(
            &ctx(),
            json!({"table": "gold.orders", "column": "amount", "time_column": "ordered_at",
                   "since": "2026-11-02", "until": "2026-11-01"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid arguments for profile_column: since must be before until"
    );
}

#[tokio::test]
async fn compare_distributions_between_windows_and_tables() {
    let db = TestDb::new().await;
    let pool = seed_history(&db).await;
    let window = |start: &str, end: &str| json!({"table": "features.customer_scores", "time_column": "snapshot_at", "start": start, "end": end});
    let drifted = tool(&db, "compare_distributions")
        .call(
            &ctx(),
            json!({"column": "churn_risk", "bins": 4,
                   "reference": window("2026-11-01", "2026-11-29"),
                   "current": window("2026-11-29", "2026-11-30")}),
        )
        .await
        .unwrap();
    // Recompute the same PSI by hand from SQL counts at the reference quartiles.
    let edges: (f64, f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.25) WITHIN GROUP (ORDER BY churn_risk),
                percentile_cont(0.5) WITHIN GROUP (ORDER BY churn_risk),
                percentile_cont(0.75) WITHIN GROUP (ORDER BY churn_risk)
         FROM features.customer_scores WHERE snapshot_at >= '2026-11-01' AND snapshot_at < '2026-11-29'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let counts = |start: &'static str, end: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64, i64, i64)>(
                "SELECT count(*) FILTER (WHERE churn_risk <= $1),
                        count(*) FILTER (WHERE churn_risk > $1 AND churn_risk <= $2),
                        count(*) FILTER (WHERE churn_risk > $2 AND churn_risk <= $3),
                        count(*) FILTER (WHERE churn_risk > $3)
                 FROM features.customer_scores WHERE snapshot_at >= $4::timestamptz AND snapshot_at < $5::timestamptz",
            )
            .bind(edges.0)
            .bind(edges.1)
            .bind(edges.2)
            .bind(start)
            .bind(end)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let r = counts("2026-11-01", "2026-11-29").await;
    let c = counts("2026-11-29", "2026-11-30").await;
    let as_vec = |t: (i64, i64, i64, i64)| vec![t.0 as f64, t.1 as f64, t.2 as f64, t.3 as f64];
    let expected_psi = steward::dq::divergence::psi(&as_vec(r), &as_vec(c), 1e-4);
    assert_eq!(drifted["psi"].as_f64(), Some(expected_psi));
    assert_eq!(drifted["band"], json!("significant"));
    assert_eq!(drifted["binning"], json!("quantiles"));
    let buckets: Vec<f64> = drifted["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["current"].as_f64().unwrap())
        .collect();
    assert_eq!(buckets, as_vec(c));

    // Two tables, categorical: the currencies of payments vs themselves are identical.
    let same = tool(&db, "compare_distributions")
        .call(
            &ctx(),
            json!({"column": "currency",
                   "reference": {"table": "raw.payments"},
                   "current": {"table": "gold.orders"}}),
        )
        .await
        .unwrap();
    assert_eq!(same["binning"], json!("top_values"));
    assert_eq!(
        same["buckets"].as_array().unwrap().last().unwrap()["bucket"],
        json!("other")
    );
    assert!(same["psi"].as_f64().unwrap() > 0.0);

    let err = tool(&db, "compare_distributions")
        .call(
            &ctx(),
            json!({"column": "churn_risk",
                   "reference": window("2026-11-01", "2026-11-29"),
                   "current": window("2026-12-01", "2026-12-02")}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "features.customer_scores where snapshot_at in [2026-12-01T00:00:00Z, \
         2026-12-02T00:00:00Z) has no non-null values of \"churn_risk\""
    );
}

#[tokio::test]
async fn steward_check_prints_results_and_fails_on_severity() {
    let db = TestDb::new().await;
    seed_history(&db).await;
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "--config", DEMO_CHECKS, "--as-of", AS_OF];
        args.extend_from_slice(extra);
        let out = Command::new(steward_bin())
            .args(&args)
            .env_clear()
            .env("STEWARD_DATABASE_URL", &db.url)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (code, stdout, stderr) = check(&["--fail-on", "P1"]);
    assert_eq!(code, Some(1), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "as of 2026-11-30T00:00:00Z: 10 check(s) — 7 ok, 3 anomaly, 0 check_error"
    );
    assert!(
        lines[1].starts_with("anomaly     P1  new      volume:raw.events "),
        "{stdout}"
    );
    let (code, _, _) = check(&["--fail-on", "P0"]);
    assert_eq!(code, Some(0));
    let (code, stdout, _) = check(&["--json", "--table", "raw.payments"]);
    assert_eq!(code, Some(0));
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["summary"],
        json!({"ok": 3, "anomaly": 1, "check_error": 0, "P1": 1})
    );
    assert_eq!(json["results"][0]["finding"]["occurrences"], json!(3));
    let (code, _, stderr) = check(&["--table", "raw.nothing"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr
            .contains("no configured check matches; tables with checks: raw.events, raw.payments,"),
        "{stderr}"
    );
}

#[test]
fn a_bad_check_in_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, "[dq]\nchecks_file = \"checks.toml\"\n").unwrap();
    std::fs::write(
        dir.path().join("checks.toml"),
        "[[checks]]\nkind = \"volume\"\ntable = \"raw.events\"\ntime_column = \"t\"\n\n\
         [[checks]]\nkind = \"nulls\"\ntable = \"raw.events\"\n",
    )
    .unwrap();
    let out = Command::new(steward_bin())
        .args(["check", "--config", path.to_str().unwrap()])
        .env_clear()
        .env("STEWARD_DATABASE_URL", "postgres://127.0.0.1:1/x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim(),
        "error: checks[1].kind: unknown check kind \"nulls\"; expected one of volume, \
         freshness, null_rate, uniqueness, schema, distribution"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_diagnose_starts_one_run_per_new_anomaly() {
    let db = TestDb::new().await;
    seed_history(&db).await;
    let run = || {
        Command::new(steward_bin())
            .args(["check", "--config", DEMO_CHECKS, "--as-of", AS_OF])
            .args(["--table", "raw.payments", "--diagnose", "--json"])
            .env_clear()
            .env("STEWARD_DATABASE_URL", &db.url)
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let diagnoses = json["diagnoses"].as_array().unwrap();
    assert_eq!(diagnoses.len(), 1);
    let report = &diagnoses[0];
    assert_eq!(report["table"], json!("raw.payments"));
    assert_eq!(report["path"], json!("runbook"));
    assert_eq!(report["status"], json!("completed"));
    assert!(
        report["description"]
            .as_str()
            .unwrap()
            .starts_with("data-quality check null_rate:raw.payments:payment_method found an anomaly: payment_method is NULL in 37.00%"),
        "{report}"
    );
    assert!(
        report["body"].as_str().unwrap().contains(
            "`raw.payments.payment_method` is NULL in 37.0% of the last day's rows vs 1.0% before"
        ),
        "{report}"
    );
    // The same ongoing anomaly is not diagnosed again.
    let again: Value = serde_json::from_slice(&run().stdout).unwrap();
    assert_eq!(again["diagnoses"], json!([]));
}
