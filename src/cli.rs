//! The command line: `serve` (MCP over stdio or HTTP), `config check|show`, `token new` and
//! `call` (run one tool as the local operator). Logs go to stderr; stdout carries only output.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::config::Config;
use crate::config_check;
use crate::mcp::StewardServer;
use crate::mcp::auth::{TokenVerifier, hash_token, new_token};
use crate::principal::{Channel, Principal};

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
    /// Run one tool as the local operator and print its JSON result.
    Call {
        /// Tool name, e.g. query_warehouse.
        tool: String,
        /// Arguments as a JSON object, e.g. '{"sql": "select 1"}'.
        #[arg(default_value = "{}")]
        arguments: String,
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
        Command::Call { tool, arguments } => {
            let arguments: serde_json::Value = serde_json::from_str(&arguments)
                .context("arguments must be a JSON object, e.g. '{\"sql\": \"select 1\"}'")?;
            let app = App::start(config).await?;
            let operator = Principal {
                id: app.config.server.stdio_principal.clone(),
                groups: app.config.server.stdio_groups.clone(),
            };
            let value = app
                .registry
                .call(&operator, Channel::Cli, &tool, arguments)
                .await?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { http } => {
            serve(config, http).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { .. } => Ok(ExitCode::SUCCESS),
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
    let local = Principal {
        id: app.config.server.stdio_principal.clone(),
        groups: app.config.server.stdio_groups.clone(),
    };
    let server = StewardServer::new(app.registry.clone(), local);
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
    println!(
        "warehouse:            {:?} {}",
        config.warehouse.kind,
        url(&config.warehouse.database)
    );
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
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
