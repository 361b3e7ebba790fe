//! The command line: `serve` (MCP over stdio or HTTP), `config check|show`, `token new` and
//! `call` (run one tool as the local operator). Logs go to stderr; stdout carries only output.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::agent::command::DiagnoseCommand;
use crate::app::App;
use crate::config::Config;
use crate::config_check;
use crate::dq::report::CheckCommand;
use crate::mcp::StewardServer;
use crate::mcp::auth::{TokenVerifier, hash_token, new_token};
use crate::pipeline::{Caller, Outcome};
use crate::principal::Channel;
use crate::rag::bench::BenchRetrievalCommand;
use crate::rag::command::{AskCommand, IndexCommand, ReindexCommand};
use crate::rag::eval::EvalRetrievalCommand;
use crate::rag::eval_rag::EvalRagCommand;

#[derive(Debug, Parser)]
#[command(
    name = "steward",
    version,
    about = "Agentic operations runtime for data platforms"
)]
pub struct Cli {
    /// Config file (TOML). Defaults to $STEWARD_CONFIG; without either, the environment alone.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (default) or streamable HTTP.
    Serve {
        /// Listen on this address for streamable HTTP (`/mcp`, `/healthz`), e.g. 127.0.0.1:8765.
        #[arg(long, value_name = "ADDR")]
        http: Option<String>,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Manage HTTP bearer tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Run one tool as the local operator (policy and approvals apply) and print its JSON result.
    Call {
        /// Tool name, e.g. query_warehouse.
        tool: String,
        /// Arguments as a JSON object, e.g. '{"sql": "select 1"}'.
        #[arg(default_value = "{}")]
        arguments: String,
        /// When approval is needed, wait up to this many seconds for people to decide, then run.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Review and decide approval requests.
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// Test and debug the Rego policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Inspect the tamper-evident audit ledger.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the configured data-quality checks, record findings and print the results.
    Check(CheckCommand),
    /// Diagnose a data-quality anomaly with the agent (or the runbook without a model).
    Diagnose(DiagnoseCommand),
    /// Index runbooks and docs (Markdown, text, HTML) for retrieval; unchanged files are skipped.
    Index(IndexCommand),
    /// Re-embed every chunk with the configured model, then switch queries to it.
    Reindex(ReindexCommand),
    /// Answer a question from the indexed runbooks and docs, with citations.
    Ask(AskCommand),
    /// Measure Steward's speed (figures printed, never asserted).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Measure Steward's detectors on public labelled benchmarks.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Indexing throughput and query latency per mode at N chunks, next to the raw SQL.
    Retrieval(BenchRetrievalCommand),
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run the volume detector over NAB-format series and score it as NAB does (standard
    /// profile, threshold swept), plus event-level precision, recall and F1.
    Anomalies {
        /// NAB folder: data/<category>/*.csv and labels/combined_windows.json.
        #[arg(long, value_name = "DIR")]
        nab: PathBuf,
        /// Print one JSON document instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Index a BEIR dataset into its own tenant and measure retrieval per mode: nDCG@10,
    /// Recall@10, Recall@100, MRR@10 and query latency p50/p95.
    Retrieval(EvalRetrievalCommand),
    /// Answer a golden set of questions and score the answers: citation validity and coverage
    /// always; faithfulness, answer relevancy and context precision (RAGAS, Claude as judge)
    /// when a model is configured.
    Rag(EvalRagCommand),
}

#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Requests, newest first (pending ones by default).
    List {
        /// pending, approved, denied, expired, executing, executed, failed, or all.
        #[arg(long, default_value = "pending")]
        state: String,
    },
    /// One request: the exact action, the policy reason, votes so far.
    Show { id: String },
    /// Approve a request as USER.
    Approve {
        id: String,
        #[arg(long = "as", value_name = "USER")]
        approver: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request as USER, with a reason.
    Deny {
        id: String,
        #[arg(long = "as", value_name = "USER")]
        approver: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run every test_* rule next to the policies.
    Test,
    /// Print the decision for an input document (JSON file).
    Eval {
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the hash chain; report the first broken row.
    Verify,
    /// The most recent rows, oldest first.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        limit: i64,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Ping every configured backend: ok / unreachable / not configured.
    Check,
    /// Print the resolved configuration (secrets are never shown).
    Show,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Generate a token and print it with the config entry holding only its hash.
    New {
        #[arg(long)]
        principal: String,
        /// Group for policies (repeatable).
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

/// Logs to stderr (stdout is the MCP channel for stdio); level from `STEWARD_LOG` or `RUST_LOG`.
pub fn init_logging() {
    let filter = EnvFilter::try_from_env("STEWARD_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LossyStderr)
        .with_ansi(false)
        .init();
}

/// stderr that drops what it cannot write: a client that closed our stderr (or a full pipe)
/// must not turn a log line into a failed request.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Token {
            command: TokenCommand::New { principal, groups },
        } => {
            let token = new_token();
            println!("token (give this to the client; it is not stored anywhere): {token}");
            println!();
            println!("[[server.tokens]]");
            println!("principal = {}", toml_string(&principal));
            println!(
                "groups = [{}]",
                groups
                    .iter()
                    .map(|g| toml_string(g))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("sha256 = \"{}\"", hex::encode(hash_token(&token)));
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            command: EvalCommand::Anomalies { nab, json },
        } => eval_anomalies(&nab, json),
        command => {
            let config = Config::from_process(cli.config.as_deref())?;
            run_with_config(command, config).await
        }
    }
}

async fn run_with_config(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Config {
            command: ConfigCommand::Check,
        } => {
            let checks = config_check::run(&config).await;
            for check in &checks {
                println!("{}", check.line());
            }
            Ok(if checks.iter().any(|c| c.is_unreachable()) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Config {
            command: ConfigCommand::Show,
        } => {
            print_config(&config);
            Ok(ExitCode::SUCCESS)
        }
        Command::Call {
            tool,
            arguments,
            wait,
        } => {
            let arguments: serde_json::Value = serde_json::from_str(&arguments)
                .context("arguments must be a JSON object, e.g. '{\"sql\": \"select 1\"}'")?;
            let app = App::start(config).await?;
            let caller = Caller::new(app.operator(), Channel::Cli);
            let mut outcome = app.pipeline.call(&caller, &tool, arguments.clone()).await?;
            if let (Outcome::PendingApproval(pending), Some(seconds)) = (&outcome, wait) {
                eprintln!(
                    "waiting up to {seconds} s for {} ({} approval(s) from {})",
                    pending.approval_id,
                    pending.min_approvals,
                    pending.approvers.join(", ")
                );
                let decided = app
                    .pipeline
                    .approvals()
                    .wait_decided(
                        &pending.approval_id,
                        std::time::Duration::from_secs(seconds),
                    )
                    .await?;
                match decided.state.as_str() {
                    "approved" => outcome = app.pipeline.call(&caller, &tool, arguments).await?,
                    "pending" => {}
                    state => anyhow::bail!("approval {} was {state}; nothing ran", decided.id),
                }
            }
            match outcome {
                Outcome::Completed(value) => {
                    println!("{}", serde_json::to_string_pretty(&value)?);
                    Ok(ExitCode::SUCCESS)
                }
                Outcome::PendingApproval(pending) => {
                    println!("{}", serde_json::to_string_pretty(&pending)?);
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Check(command) => {
            crate::dq::report::run(&App::start(config).await?, command).await
        }
        Command::Diagnose(command) => {
            crate::agent::command::run(&App::start(config).await?, command).await
        }
        Command::Approvals { command } => approvals(App::start(config).await?, command).await,
        Command::Policy { command } => policy(&config, command),
        Command::Audit { command } => audit(App::start(config).await?, command).await,
        Command::Serve { http } => {
            serve(config, http).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Index(command) => {
            crate::rag::command::index(&App::start(config).await?, command).await
        }
        Command::Reindex(command) => {
            crate::rag::command::reindex(&App::start(config).await?, command).await
        }
        Command::Ask(command) => {
            crate::rag::command::ask(&App::start(config).await?, command).await
        }
        Command::Eval {
            command: EvalCommand::Retrieval(command),
        } => {
            let app = App::start(config).await?;
            let json = command.json;
            let report = crate::rag::eval::run(&app.rag, command).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("mode     nDCG@10  Recall@10  Recall@100  MRR@10   p50 ms  p95 ms");
                for (mode, r) in &report {
                    println!(
                        "{mode:<8} {:>7.4}  {:>9.4}  {:>10.4}  {:>6.4}  {:>7.1} {:>7.1}",
                        r.metrics.ndcg_at_10,
                        r.metrics.recall_at_10,
                        r.metrics.recall_at_100,
                        r.metrics.mrr_at_10,
                        r.p50_ms,
                        r.p95_ms
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Retrieval(command),
        } => {
            let app = App::start(config).await?;
            let json = command.json;
            let report = crate::rag::bench::run(&app.rag, command).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!(
                    "{} chunks; indexing {:.0} chunks/s; query embedding p50 {:.1} ms p95 {:.1} ms",
                    report.chunks,
                    report.indexing_chunks_per_second,
                    report.query_embedding.p50_ms,
                    report.query_embedding.p95_ms
                );
                println!("mode     steward p50/p95 ms   raw SQL p50/p95 ms   overhead");
                for (mode, m) in &report.modes {
                    println!(
                        "{mode:<8} {:>8.2} {:>8.2}   {:>8.2} {:>8.2}   {:>6.2}x",
                        m.steward.p50_ms,
                        m.steward.p95_ms,
                        m.raw_sql.p50_ms,
                        m.raw_sql.p95_ms,
                        m.overhead
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval {
            command: EvalCommand::Rag(command),
        } => {
            let app = App::start(config).await?;
            let claude = app.config.agent.client()?;
            let report = crate::rag::eval_rag::run(&app.rag, claude, &command).await?;
            if command.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let show = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
                println!(
                    "{} question(s): citation validity {:.3}, coverage {:.3}, faithfulness {}, \
                     answer relevancy {}, context precision {}",
                    report.questions,
                    report.citation_validity,
                    report.citation_coverage,
                    show(report.faithfulness),
                    show(report.answer_relevancy),
                    show(report.context_precision)
                );
                if let Some(note) = &report.note {
                    println!("{note}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { .. } | Command::Eval { .. } => Ok(ExitCode::SUCCESS),
    }
}

async fn serve(config: Config, http: Option<String>) -> anyhow::Result<()> {
    let verifier = TokenVerifier::new(config.server.tokens.clone());
    if http.is_some() && verifier.is_empty() {
        anyhow::bail!(
            "no [[server.tokens]] configured: every HTTP request would be rejected. \
             Create one with `steward token new --principal NAME` and add it to steward.toml"
        );
    }
    let app = App::start(config).await?;
    let server = StewardServer::new(
        app.pipeline.clone(),
        app.operator(),
        app.config.agent.clone(),
    );
    match http {
        None => {
            let stdio = crate::mcp::stdio::screened(tokio::io::stdin(), tokio::io::stdout());
            let running = server
                .serve((stdio.reader, stdio.writer))
                .await
                .context("MCP initialization over stdio failed")?;
            running
                .waiting()
                .await
                .context("MCP stdio session failed")?;
            // rmcp has dropped its end: wait until every reply has reached stdout.
            let _ = stdio.flushed.await;
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let local_addr = listener.local_addr()?;
            // Tests and scripts read this line to find an ephemeral port.
            eprintln!("steward: MCP over streamable HTTP at http://{local_addr}/mcp");
            let shutdown = CancellationToken::new();
            let on_signal = shutdown.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                on_signal.cancel();
            });
            crate::mcp::http::serve(listener, server, verifier, &app.config.server, shutdown)
                .await?;
        }
    }
    Ok(())
}

async fn approvals(app: App, command: ApprovalsCommand) -> anyhow::Result<ExitCode> {
    let approvals = app.pipeline.approvals();
    let token = std::env::var("STEWARD_TOKEN").ok();
    match command {
        ApprovalsCommand::List { state } => {
            let states: Vec<&str> = if state == "all" {
                vec![]
            } else {
                vec![state.as_str()]
            };
            let requests = approvals.list(&states).await?;
            if requests.is_empty() {
                println!("no {state} approval requests");
            }
            for r in requests {
                println!(
                    "{}  {:<9} {}  {} {}  {}/{} approvals  expires {}  {}",
                    r.id,
                    r.state,
                    r.tool,
                    r.action["statement_kind"].as_str().unwrap_or(""),
                    r.action["tables"]
                        .as_array()
                        .map(|t| t
                            .iter()
                            .filter_map(|v| v.as_str())
                            .collect::<Vec<_>>()
                            .join(","))
                        .unwrap_or_default(),
                    r.approvals_given(),
                    r.min_approvals,
                    r.expires_at,
                    r.principal,
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsCommand::Show { id } => {
            let request = approvals.get(&id).await?;
            println!("{}", serde_json::to_string_pretty(&request)?);
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsCommand::Approve {
            id,
            approver,
            comment,
        } => {
            let person = app.approver(&approver, token.as_deref())?;
            let request = app
                .pipeline
                .vote(&id, &person, true, comment.as_deref(), "cli")
                .await?;
            println!(
                "{} approved {}: now {} ({}/{} approvals)",
                person.id,
                request.id,
                request.state,
                request.approvals_given(),
                request.min_approvals
            );
            Ok(ExitCode::SUCCESS)
        }
        ApprovalsCommand::Deny {
            id,
            approver,
            reason,
        } => {
            let person = app.approver(&approver, token.as_deref())?;
            let request = app
                .pipeline
                .vote(&id, &person, false, Some(&reason), "cli")
                .await?;
            println!("{} denied {}: now {}", person.id, request.id, request.state);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn policy(config: &Config, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let engine = crate::app::load_policies(config)?;
    match command {
        PolicyCommand::Test => {
            let results = engine.run_tests();
            let failed = results.iter().filter(|r| !r.passed).count();
            for r in &results {
                let mark = if r.passed { "ok  " } else { "FAIL" };
                match &r.error {
                    Some(error) => println!("{mark} {}: {error}", r.name),
                    None => println!("{mark} {}", r.name),
                }
            }
            println!("{} passed, {failed} failed", results.len() - failed);
            Ok(if failed == 0 && !results.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        PolicyCommand::Eval { input } => {
            let text = std::fs::read_to_string(&input)
                .with_context(|| format!("cannot read {}", input.display()))?;
            let input: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", input.display()))?;
            println!(
                "raw:      {}",
                serde_json::to_string(&engine.evaluate_raw(&input)?)?
            );
            println!(
                "decision: {}",
                serde_json::to_string(&engine.decide(&input))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn audit(app: App, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let ledger = app.pipeline.audit();
    match command {
        AuditCommand::Verify => match ledger.verify().await? {
            crate::audit::Verification::Intact { rows } => {
                println!("audit ledger intact: {rows} rows, hash chain verified");
                Ok(ExitCode::SUCCESS)
            }
            crate::audit::Verification::Broken { seq, reason } => {
                println!("audit ledger BROKEN at row {seq}: {reason}");
                Ok(ExitCode::FAILURE)
            }
        },
        AuditCommand::Tail { limit, json } => {
            for row in ledger.tail(limit).await? {
                if json {
                    println!("{}", serde_json::to_string(&row)?);
                } else {
                    println!("{}", row.line());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn eval_anomalies(dir: &std::path::Path, json: bool) -> anyhow::Result<ExitCode> {
    use crate::dq::{nab, volume};
    let series =
        nab::load(dir).with_context(|| format!("cannot load NAB data from {}", dir.display()))?;
    let detector = volume::VolumeDetector::new(volume::VolumeConfig::nab());
    let scores: Vec<_> = series.iter().map(|s| detector.score(&s.points())).collect();
    let (threshold, report) = nab::sweep(&series, &scores);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<60} {:>7} {:>4} {:>4} {:>9}",
        "series", "windows", "tp", "fp", "raw"
    );
    for s in &report.series {
        println!(
            "{:<60} {:>7} {:>4} {:>4} {:>9.3}",
            s.name, s.windows, s.tp, s.fp, s.raw_score
        );
    }
    println!();
    for c in report.by_category() {
        println!(
            "{:<24} files {:>3}  NAB standard {:>6}  precision {:.3}  recall {:.3}  F1 {:.3}",
            c.category,
            c.files,
            c.nab_standard
                .map(|s| format!("{s:.1}"))
                .unwrap_or_else(|| "-".into()),
            c.precision,
            c.recall,
            c.f1
        );
    }
    println!(
        "total: NAB standard {:.1} (threshold {threshold:.4})  precision {:.3}  recall {:.3}  F1 {:.3}",
        report.nab_standard, report.precision, report.recall, report.f1
    );
    println!(
        "published standard scores: windowed Gaussian 39.6, Twitter ADVec 47.1, Random Cut Forest 51.7"
    );
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

fn print_config(config: &Config) {
    let url = |s: &crate::config::DatabaseSettings| match &s.url {
        Some(_) => format!("from {} ({})", s.url_env, s.display_target()),
        None => format!("not configured (set {})", s.url_env),
    };
    let limits = &config.warehouse.limits;
    println!("source:               {}", config.source);
    println!("storage:              {}", url(&config.storage));
    match &config.warehouse.trino {
        Some(trino) => println!(
            "warehouse:            Trino {} (catalog {}, schema {}, source {}, auth {:?})",
            trino.url, trino.catalog, trino.schema, trino.source, trino.auth
        ),
        None => println!(
            "warehouse:            Postgres {}",
            url(&config.warehouse.database)
        ),
    }
    println!(
        "warehouse limits:     default_rows={} max_rows={} max_bytes={} statement_timeout_ms={}",
        limits.default_rows, limits.max_rows, limits.max_bytes, limits.timeout_ms
    );
    println!(
        "http allowed hosts:   {}",
        config.server.allowed_hosts.join(", ")
    );
    println!(
        "http allowed origins: {}",
        config.server.allowed_origins.join(", ")
    );
    println!("stdio principal:      {}", config.server.stdio_principal);
    println!(
        "http tokens:          {}",
        config
            .server
            .tokens
            .iter()
            .map(|t| t.principal.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "dq checks:            {} ({} severity rule(s))",
        config
            .dq
            .checks
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        config.dq.severity_rules.len()
    );
    let agent = &config.agent;
    println!(
        "agent:                {} via {} (key from {}: {}); max_steps={} max_cost_usd={} \
         deadline_secs={}",
        agent.models.join(" -> "),
        agent.base_url,
        agent.api_key_env,
        if agent.api_key.is_some() {
            "set"
        } else {
            "not set, runbook only"
        },
        agent.max_steps,
        agent.max_cost_usd,
        agent.deadline.as_secs()
    );
    let rag = &config.rag;
    println!(
        "rag:                  embedder={} tenant={} chunks={}+{} rrf_k={} candidates={} \
         exact_search_max_chunks={} reranker={}",
        match &rag.embedder {
            crate::rag::settings::EmbedderSettings::Onnx { model, .. } => match model {
                Some(path) => format!("onnx ({})", path.display()),
                None => "onnx (model not configured)".to_string(),
            },
            crate::rag::settings::EmbedderSettings::Http {
                base_url, model, ..
            } => {
                format!("http ({model} at {base_url})")
            }
            crate::rag::settings::EmbedderSettings::None => "none".to_string(),
        },
        rag.default_tenant,
        rag.chunks.max_tokens,
        rag.chunks.overlap_tokens,
        rag.rrf.k,
        rag.candidates,
        rag.exact_search_max_chunks,
        rag.reranker_dir
            .as_ref()
            .map_or("none".to_string(), |d| d.display().to_string())
    );
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
