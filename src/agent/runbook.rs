//! The deterministic diagnosis runbook, used without an API key and as the last fallback: the
//! standard on-call steps (describe, configured checks, daily volume and null shares in the
//! anomaly window vs the weeks before, the same upstream) through the same pipeline, written as
//! the same report with proposed — never executed — remediations.

use std::time::Instant;

use serde_json::{Value, json};

use super::diagnose::{DiagnoseError, Diagnoser, Progress};
use super::runs::{Run, RunState};
use super::untrusted::wrap_tool_output;
use crate::dq::sql::{ColumnClass, cell_f64, classify, quote_ident};
use crate::pipeline::{CallError, Caller, Outcome, Pipeline};

/// What the runbook learned about one table.
#[derive(Default)]
struct TableFindings {
    lines: Vec<String>,
    anomalies: Vec<String>,
}

/// Runs the runbook for `run.table` and its upstream tables and completes the run.
pub async fn run(
    caller: &Caller,
    run: &mut Run,
    diagnoser: &Diagnoser,
    progress: &dyn Progress,
) -> Result<(), DiagnoseError> {
    let pipeline = diagnoser.pipeline()?;
    let mut steps = Steps {
        pipeline: &pipeline,
        caller,
        diagnoser,
        progress,
        run_id: run.id.clone(),
        next: run.steps,
    };
    let table = run.table.clone();
    let as_of = run.as_of.clone();
    let own = investigate(&mut steps, &table, as_of.as_deref()).await?;
    let upstream_tables = diagnoser.upstream(&table);
    let mut upstream = Vec::new();
    for up in &upstream_tables {
        upstream.push((
            up.clone(),
            investigate(&mut steps, up, as_of.as_deref()).await?,
        ));
    }
    let runbooks = search_runbooks(&mut steps, &table, &run.description).await?;
    run.steps = steps.next;
    run.report = Some(json!({ "body": body(&table, &own, &upstream, &runbooks) }));
    run.state = RunState::Completed;
    diagnoser.runs().save(run).await?;
    Ok(())
}

struct Steps<'a> {
    pipeline: &'a Pipeline,
    caller: &'a Caller,
    diagnoser: &'a Diagnoser,
    progress: &'a dyn Progress,
    run_id: String,
    next: i32,
}

impl Steps<'_> {
    /// One read-only tool call, recorded as a run step; `Err(message)` when the tool failed.
    async fn call(
        &mut self,
        tool: &str,
        input: Value,
    ) -> Result<Result<Value, String>, DiagnoseError> {
        self.next += 1;
        let id = format!("runbook_{}", self.next);
        let runs = self.diagnoser.runs();
        runs.start_step(&self.run_id, &id, self.next, tool, &input)
            .await?;
        let started = Instant::now();
        let outcome = match self.pipeline.call(self.caller, tool, input).await {
            Ok(Outcome::Completed(value)) => Ok(value),
            Ok(Outcome::PendingApproval(p)) => Err(format!(
                "needs approval {} ({}); the runbook only reads",
                p.approval_id, p.reason
            )),
            Err(CallError::Audit(e)) => return Err(DiagnoseError::Audit(e.to_string())),
            Err(e) => Err(e.to_string()),
        };
        let (text, is_error) = match &outcome {
            Ok(value) => (
                wrap_tool_output(tool, value, self.diagnoser.tool_output_max_bytes()).text,
                false,
            ),
            Err(message) => (message.clone(), true),
        };
        let elapsed = started.elapsed().as_millis() as i64;
        let decision = if is_error { "error" } else { "allow" };
        runs.finish_step(&self.run_id, &id, decision, &text, is_error, elapsed)
            .await?;
        self.progress.line(&format!(
            "step {}: {tool} ({elapsed} ms) {decision}",
            self.next
        ));
        Ok(outcome)
    }
}

async fn investigate(
    steps: &mut Steps<'_>,
    table: &str,
    as_of: Option<&str>,
) -> Result<TableFindings, DiagnoseError> {
    let mut found = TableFindings::default();
    let described = steps
        .call(
            "describe_table",
            json!({ "table": table, "sample_rows": 0 }),
        )
        .await?;
    let described = match described {
        Ok(value) => value,
        Err(message) => {
            found
                .lines
                .push(format!("`{table}` could not be described: {message}"));
            found
                .anomalies
                .push(format!("`{table}` is not readable: {message}"));
            return Ok(found);
        }
    };
    let qualified = format!(
        "{}.{}",
        quote_ident(described["schema"].as_str().unwrap_or_default()),
        quote_ident(described["name"].as_str().unwrap_or_default())
    );
    let columns: Vec<(String, String)> = described["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_string(),
                c["type"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    if steps.diagnoser.has_checks(table)
        && let Ok(checks) = steps
            .call("run_checks", json!({ "table": table, "as_of": as_of }))
            .await?
    {
        for result in checks["results"].as_array().into_iter().flatten() {
            let line = format!(
                "check `{}`: {} — {}",
                result["check"].as_str().unwrap_or("?"),
                result["status"].as_str().unwrap_or("?"),
                result["message"].as_str().unwrap_or("")
            );
            // A check that could not run is evidence to report, not an anomaly signal.
            if result["status"] == "anomaly" {
                found.anomalies.push(line.clone());
            }
            found.lines.push(line);
        }
    }
    let Some((time, _)) = columns
        .iter()
        .find(|(_, t)| classify(t) == ColumnClass::Time)
    else {
        found.lines.push(format!(
            "`{table}` has no timestamp or date column: no daily history"
        ));
        return Ok(found);
    };
    let time = quote_ident(time);
    let tracked: Vec<&(String, String)> = columns.iter().take(12).collect();
    let counts: Vec<String> = tracked
        .iter()
        .map(|(name, _)| format!("count({})", quote_ident(name)))
        .collect();
    let sql = format!(
        "SELECT CASE WHEN {time} > (SELECT max({time}) FROM {qualified}) - INTERVAL '1' DAY \
         THEN 'last_day' ELSE 'previous_28_days' END AS period, count(*) AS n_rows, \
         count(DISTINCT CAST({time} AS date)) AS days, {} FROM {qualified} \
         WHERE {time} > (SELECT max({time}) FROM {qualified}) - INTERVAL '29' DAY GROUP BY 1",
        counts.join(", ")
    );
    let profile = match steps.call("query_warehouse", json!({ "sql": sql })).await? {
        Ok(value) => value,
        Err(message) => {
            found
                .lines
                .push(format!("daily profile of `{table}` failed: {message}"));
            return Ok(found);
        }
    };
    let rows = profile["rows"].as_array().cloned().unwrap_or_default();
    let period = |name: &str| rows.iter().find(|r| r[0] == name).cloned();
    let (Some(last), Some(before)) = (period("last_day"), period("previous_28_days")) else {
        found.lines.push(format!(
            "`{table}` has too little recent history to compare (SQL: {sql})"
        ));
        return Ok(found);
    };
    let number = |v: &Value| cell_f64(v).unwrap_or(0.0);
    let (last_rows, before_rows, before_days) = (
        number(&last[1]),
        number(&before[1]),
        number(&before[2]).max(1.0),
    );
    let daily = before_rows / before_days;
    let change = if daily > 0.0 {
        (last_rows - daily) / daily * 100.0
    } else {
        0.0
    };
    let volume = format!(
        "`{table}`: {last_rows} rows in the last day of data vs {daily:.0} per day over the \
         {before_days} days before ({change:+.0}%)"
    );
    if change.abs() >= 30.0 {
        found.anomalies.push(volume.clone());
    }
    found.lines.push(volume);
    for (i, (name, _)) in tracked.iter().enumerate() {
        let (last_n, before_n) = (number(&last[3 + i]), number(&before[3 + i]));
        let last_nulls = if last_rows > 0.0 {
            1.0 - last_n / last_rows
        } else {
            0.0
        };
        let before_nulls = if before_rows > 0.0 {
            1.0 - before_n / before_rows
        } else {
            0.0
        };
        if last_nulls - before_nulls >= 0.05 {
            let line = format!(
                "`{table}.{name}` is NULL in {:.1}% of the last day's rows vs {:.1}% before",
                last_nulls * 100.0,
                before_nulls * 100.0
            );
            found.anomalies.push(line.clone());
            found.lines.push(line);
        }
    }
    found
        .lines
        .push(format!("(volume and null shares from: `{sql}`)"));
    Ok(found)
}

/// The team's runbooks about this table and symptom (the `retrieve` tool), as evidence lines.
async fn search_runbooks(
    steps: &mut Steps<'_>,
    table: &str,
    description: &str,
) -> Result<Vec<String>, DiagnoseError> {
    let query = format!("{table} {description}");
    let found = steps
        .call(
            "retrieve",
            json!({ "query": query, "k": 3, "filters": { "kinds": ["runbook", "incident"] } }),
        )
        .await?;
    Ok(match found {
        Ok(result) => {
            let hits = result["hits"].as_array().cloned().unwrap_or_default();
            if hits.is_empty() {
                vec!["no runbook matched this table and symptom".to_string()]
            } else {
                hits.iter()
                    .map(|h| {
                        let excerpt: String = h["content"]
                            .as_str()
                            .unwrap_or_default()
                            .chars()
                            .take(240)
                            .collect();
                        format!(
                            "{} ({}): {}",
                            h["heading_path"].as_str().unwrap_or_default(),
                            h["source"].as_str().unwrap_or_default(),
                            excerpt.replace('\n', " ")
                        )
                    })
                    .collect()
            }
        }
        Err(message) => vec![format!("runbook search unavailable: {message}")],
    })
}

fn body(
    table: &str,
    own: &TableFindings,
    upstream: &[(String, TableFindings)],
    runbooks: &[String],
) -> String {
    let upstream_anomalies: Vec<&String> =
        upstream.iter().flat_map(|(_, f)| &f.anomalies).collect();
    let (cause, confidence) = match (own.anomalies.is_empty(), upstream_anomalies.is_empty()) {
        (_, false) => (
            format!(
                "An upstream table shows an anomaly in the same window: {}. The problem most \
                 likely starts upstream and propagates into `{table}`.",
                upstream_anomalies
                    .iter()
                    .take(3)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            "medium — upstream and downstream anomalies coincide; no model checked the join logic",
        ),
        (false, true) => (
            format!(
                "The anomaly is visible in `{table}` itself and not upstream{}: look at the job \
                 that loads it.",
                if upstream.is_empty() {
                    " (no upstream tables are configured in [agent.lineage])"
                } else {
                    ""
                }
            ),
            "low — only the table's own statistics were compared",
        ),
        (true, true) => (
            "The runbook did not reproduce the reported anomaly in the statistics it computes."
                .to_string(),
            "low — check the report's time window and the table name",
        ),
    };
    let mut out = String::from("### Summary\n");
    out.push_str(&format!(
        "{} anomaly signal(s) in `{table}`, {} upstream.\n\n### Evidence\n",
        own.anomalies.len(),
        upstream_anomalies.len()
    ));
    for line in &own.lines {
        out.push_str(&format!("- {line}\n"));
    }
    for (name, findings) in upstream {
        out.push_str(&format!("- upstream `{name}`:\n"));
        for line in &findings.lines {
            out.push_str(&format!("  - {line}\n"));
        }
    }
    out.push_str("- runbooks:\n");
    for line in runbooks {
        out.push_str(&format!("  - {line}\n"));
    }
    out.push_str(&format!(
        "\n### Likely root cause\n{cause}\nConfidence: {confidence}\n\n### Impact\nConsumers of \
         `{table}` (dashboards, features, models) see the anomaly until it is fixed and the table \
         reloaded.\n\n### Proposed remediation\nNot executed — each step that changes data needs \
         approval.\n1. Fix the source of the anomaly named above (the upstream feed or the load \
         job).\n2. Reload the affected window of `{table}` (needs approval).\n3. Rerun `steward \
         check --table {table}` to confirm the finding resolves.\n"
    ));
    out
}
