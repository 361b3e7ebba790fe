//! `steward config check` run as a user would: configured and up, configured and down, and
//! not configured — one line per backend and a failing exit code only when something is down.

use std::process::Command;

use pretty_assertions::assert_eq;

use crate::common::{TestDb, steward_bin};

struct Run {
    code: i32,
    lines: Vec<String>,
    stderr: String,
}

fn check(envs: &[(&str, &str)], config: Option<&std::path::Path>) -> Run {
    let mut cmd = Command::new(steward_bin());
    cmd.env_clear();
    if let Some(path) = config {
        cmd.arg("--config").arg(path);
    }
    cmd.args(["config", "check"]).envs(envs.iter().copied());
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        lines: String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// Replaces the digits of "(12 ms)" so lines can be compared whole.
fn without_timing(line: &str) -> String {
    match (line.find('('), line.find(" ms)")) {
        (Some(open), Some(close)) if open < close => {
            format!("{}(N{}", &line[..open], &line[close..])
        }
        _ => line.to_string(),
    }
}

#[tokio::test]
async fn configured_and_up() {
    let db = TestDb::new().await;
    let run = check(&[("STEWARD_DATABASE_URL", &db.url)], None);
    let target = db.url.rsplit('@').next().unwrap().to_string();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<String> = run.lines.iter().map(|l| without_timing(l)).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("storage    ok              postgres 18.")
            && lines[0].ends_with(&format!("at {target} (N ms)")),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(&format!(
            "warehouse  ok              postgres at {target} (N ms): PostgreSQL 18."
        )),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn configured_and_down() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, "[warehouse]\ndatabase_url_env = \"WAREHOUSE_URL\"\n").unwrap();
    let run = check(
        &[
            ("STEWARD_DATABASE_URL", &db.url),
            (
                "WAREHOUSE_URL",
                "postgres://reader:pw@127.0.0.1:1/analytics",
            ),
        ],
        Some(&path),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.lines[0].starts_with("storage    ok "),
        "{:?}",
        run.lines
    );
    assert_eq!(
        run.lines[1],
        "warehouse  unreachable     127.0.0.1:1/analytics: warehouse unavailable: error communicating \
         with database: Connection refused (os error 111)"
    );
    assert!(
        !run.lines.join("\n").contains("pw@"),
        "secrets must not be printed"
    );
}

#[test]
fn not_configured() {
    let run = check(&[], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.lines,
        vec![
            "storage    not configured  set STEWARD_DATABASE_URL",
            "warehouse  not configured  set STEWARD_DATABASE_URL",
        ]
    );
}

#[test]
fn invalid_config_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steward.toml");
    std::fs::write(&path, "[server]\nport = 8080\n").unwrap();
    let run = check(&[], Some(&path));
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        format!(
            "error: {}: at `server.port`: unknown field `port`, expected one of `allowed_hosts`, \
             `allowed_origins`, `stdio_principal`, `stdio_groups`, `tokens`",
            path.display()
        )
    );
    assert_eq!(run.lines, Vec::<String>::new());
}

#[tokio::test]
async fn a_trino_url_selects_trino_and_is_pinged() {
    let db = TestDb::new().await;
    let run = check(
        &[
            ("STEWARD_DATABASE_URL", &db.url),
            ("STEWARD_TRINO_URL", "http://127.0.0.1:1"),
            ("STEWARD_TRINO_CATALOG", "lake"),
        ],
        None,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.lines[0].starts_with("storage    ok "),
        "{:?}",
        run.lines
    );
    assert!(
        run.lines[1].starts_with(
            "warehouse  unreachable     http://127.0.0.1:1/lake/default: warehouse unavailable: \
             cannot reach Trino at http://127.0.0.1:1"
        ),
        "{}",
        run.lines[1]
    );
}

#[test]
fn config_show_summarises_agent_and_retrieval_without_the_key() {
    let out = Command::new(steward_bin())
        .args(["config", "show"])
        .env_clear()
        .env("STEWARD_DATABASE_URL", "postgres://127.0.0.1:1/x")
        .env("ANTHROPIC_API_KEY", "sk-ant-very-secret")
        .env("STEWARD_RAG__EMBEDDER", "none")
        .env("STEWARD_RAG__EXACT_SEARCH_MAX_CHUNKS", "2500")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("sk-ant-very-secret"), "{stdout}");
    assert!(
        stdout.contains(
            "agent:                claude-sonnet-4-5 -> claude-haiku-4-5 via \
             https://api.anthropic.com (key from ANTHROPIC_API_KEY: set)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "rag:                  embedder=none tenant=default chunks=200+30 rrf_k=60 \
             candidates=50 exact_search_max_chunks=2500 reranker=none"
        ),
        "{stdout}"
    );
}
