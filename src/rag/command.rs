//! Retrieval commands: `steward index` (incremental, with progress), `steward reindex
//! --embeddings` (re-embed with the configured model, then switch queries to it) and
//! `steward ask` (the `answer` tool as the local operator).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::json;

use super::index::{IndexOptions, IndexReport, check_tenant, embed_missing, index_paths};
use super::lang::Lang;
use super::store::RagStore;
use crate::app::App;
use crate::pipeline::{Caller, Outcome};
use crate::principal::Channel;

/// `steward index PATH...`
#[derive(Debug, Clone, clap::Args)]
pub struct IndexCommand {
    /// Files or folders (recursively): Markdown, text, HTML.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Whose documents these are (default: rag.default_tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// runbook, doc or incident.
    #[arg(long, default_value = "doc")]
    pub kind: String,
    /// auto (detected per document), es or en.
    #[arg(long, default_value = "auto")]
    pub lang: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `steward reindex --embeddings`
#[derive(Debug, Clone, clap::Args)]
pub struct ReindexCommand {
    /// Embed every chunk with the configured model, then make it the one queries use.
    #[arg(long, required = true)]
    pub embeddings: bool,
}

/// `steward ask QUESTION`
#[derive(Debug, Clone, clap::Args)]
pub struct AskCommand {
    pub question: String,
    #[arg(long)]
    pub tenant: Option<String>,
    /// Sources to retrieve.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    #[arg(long)]
    pub json: bool,
}

/// Progress on stderr: one line rewritten in place on a terminal, a line per 10% otherwise.
fn progress_line(done: usize, total: usize, report: &IndexReport) {
    let rate = if report.seconds > 0.0 {
        report.chunks_added as f64 / report.seconds
    } else {
        0.0
    };
    let line = format!(
        "indexed {done}/{total} files ({} new chunks, {rate:.0} chunks/s, {} failed)",
        report.chunks_added,
        report.failed.len()
    );
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprint!("\r{line}");
        if done == total {
            eprintln!();
        }
        let _ = std::io::stderr().flush();
    } else if total < 10 || done == total || done.is_multiple_of((total / 10).max(1)) {
        eprintln!("{line}");
    }
}

pub async fn index(app: &App, command: IndexCommand) -> anyhow::Result<ExitCode> {
    let rag = &app.rag;
    let embedder = rag.embedder().await.map_err(anyhow::Error::msg)?;
    let counter = rag.counter().await.map_err(anyhow::Error::msg)?;
    let options = IndexOptions {
        tenant: command
            .tenant
            .unwrap_or_else(|| rag.settings.default_tenant.clone()),
        kind: command.kind,
        lang: Lang::parse(&command.lang).map_err(anyhow::Error::msg)?,
        max_bytes: rag.settings.max_file_bytes,
        chunks: rag.settings.chunks,
    };
    let report = index_paths(
        rag.store(),
        embedder.as_deref(),
        &counter,
        &command.paths,
        &options,
        &progress_line,
    )
    .await?;
    if command.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "tenant {}: {} file(s): {} indexed, {} unchanged, {} failed, {} removed; chunks: {} \
             added, {} kept, {} removed; {:.1} s ({:.0} chunks/s)",
            options.tenant,
            report.files,
            report.indexed,
            report.unchanged,
            report.failed.len(),
            report.removed_documents,
            report.chunks_added,
            report.chunks_kept,
            report.chunks_removed,
            report.seconds,
            report.chunks_per_second
        );
        for failure in &report.failed {
            println!("  not indexed: {failure}");
        }
    }
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn reindex(app: &App, _command: ReindexCommand) -> anyhow::Result<ExitCode> {
    let Some(embedder) = app.rag.embedder().await.map_err(anyhow::Error::msg)? else {
        anyhow::bail!("no embedder is configured ([rag] embedder = \"none\"): nothing to embed");
    };
    let store: &RagStore = app.rag.store();
    let model = embedder.model_id().to_string();
    let previous = store.active_model().await?;
    store.ensure_index(&model, embedder.dimension()).await?;
    let started = Instant::now();
    let embedded = embed_missing(store, embedder.as_ref(), None, &|embedded, rate| {
        eprintln!("embedded {embedded} chunks with {model} ({rate:.0} chunks/s)");
    })
    .await?;
    // Queries switch only now that every chunk has a vector of the new model.
    store.activate(&model, embedder.dimension()).await?;
    println!(
        "{embedded} chunk(s) embedded with {model} in {:.1} s; queries now use {model} (was {})",
        started.elapsed().as_secs_f64(),
        previous.map_or("none".to_string(), |(m, _)| m)
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn ask(app: &App, command: AskCommand) -> anyhow::Result<ExitCode> {
    if let Some(tenant) = &command.tenant {
        check_tenant(tenant)?;
    }
    let caller = Caller::new(app.operator(), Channel::Cli);
    let arguments =
        json!({ "question": command.question, "tenant": command.tenant, "k": command.k });
    let Outcome::Completed(output) = app.pipeline.call(&caller, "answer", arguments).await? else {
        anyhow::bail!("the answer tool unexpectedly needs approval");
    };
    if command.json {
        println!("{}", serde_json::to_string_pretty(&output)?);
        return Ok(ExitCode::SUCCESS);
    }
    if output["path"] == "extractive" {
        println!("(extractive answer: no language model; the passages below are quoted)\n");
    }
    println!("{}\n", output["answer"].as_str().unwrap_or_default());
    for source in output["sources"].as_array().into_iter().flatten() {
        let heading = source["heading_path"].as_str().unwrap_or_default();
        let title = source["title"].as_str().unwrap_or_default();
        println!(
            "[{}] {} ({})",
            source["n"],
            if heading.is_empty() { title } else { heading },
            source["source"].as_str().unwrap_or_default()
        );
    }
    let verification = &output["verification"];
    if verification["valid"] != true {
        println!(
            "\ncitation check: invalid {} ; uncited sentences: {}",
            verification["invalid"], verification["uncited_sentences"]
        );
    }
    Ok(ExitCode::SUCCESS)
}
