//! `steward eval retrieval --beir DIR --split S`: indexes a BEIR corpus into its own tenant
//! (`beir-<name>`, reused while unchanged), runs every judged query per mode and prints nDCG@10,
//! Recall@10, Recall@100, MRR@10 and query latency p50/p95, as BEIR and pytrec_eval compute them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use super::beir::{self, Dataset, Run, Summary};
use super::documents::{Section, SourceDoc};
use super::index::{IndexOptions, IndexReport, embed_missing, index_one};
use super::lang::Lang;
use super::search::{Filters, Mode, Retriever};
use super::service::Rag;
use super::store::RagStore;

/// `steward eval retrieval`
#[derive(Debug, Clone, clap::Args)]
pub struct EvalRetrievalCommand {
    /// BEIR-format folder: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.
    #[arg(long, value_name = "DIR")]
    pub beir: PathBuf,
    #[arg(long, default_value = "test")]
    pub split: String,
    /// bm25, vector, hybrid or hybrid+rerank; repeat for several (default: all, rerank when a
    /// reranker is configured).
    #[arg(long = "mode", value_name = "MODE")]
    pub modes: Vec<String>,
    /// Evaluate only the first N queries (quick runs).
    #[arg(long, value_name = "N")]
    pub limit_queries: Option<usize>,
    #[arg(long)]
    pub json: bool,
}

/// One mode's figures: the BEIR summary and the query latency.
#[derive(Debug, Clone, Serialize)]
pub struct ModeReport {
    #[serde(flatten)]
    pub metrics: Summary,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Documents retrieved per query (chunks are grouped to their document, best chunk first).
const DEPTH: usize = 100;

pub async fn run(
    rag: &Rag,
    command: EvalRetrievalCommand,
) -> anyhow::Result<BTreeMap<String, ModeReport>> {
    let modes: Vec<Mode> = if command.modes.is_empty() {
        let mut modes = vec![Mode::Bm25, Mode::Vector, Mode::Hybrid];
        if rag.settings.reranker_dir.is_some() {
            modes.push(Mode::HybridRerank);
        }
        modes
    } else {
        command
            .modes
            .iter()
            .map(|m| Mode::parse(m))
            .collect::<Result<_, _>>()
            .map_err(anyhow::Error::msg)?
    };
    let mut dataset = beir::load(&command.beir, &command.split)?;
    if let Some(limit) = command.limit_queries {
        dataset.queries.truncate(limit);
        let keep: Vec<String> = dataset.queries.iter().map(|q| q.id.clone()).collect();
        dataset.qrels.retain(|q, _| keep.contains(q));
    }
    let name = command
        .beir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    let tenant: String = format!("beir-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    eprintln!(
        "{name} {}: {} documents, {} queries; indexing into tenant {tenant}",
        command.split,
        dataset.corpus.len(),
        dataset.queries.len()
    );
    index_corpus(rag, &dataset, &name, &tenant).await?;
    let mut retriever: Retriever = rag.retriever().await.map_err(anyhow::Error::msg)?;
    retriever.candidates = 2 * DEPTH;
    let mut out = BTreeMap::new();
    for mode in modes {
        let mut run: Run = HashMap::new();
        let mut latencies = Vec::with_capacity(dataset.queries.len());
        for query in &dataset.queries {
            let started = Instant::now();
            let found = retriever
                .search(&tenant, &query.text, 2 * DEPTH, mode, &Filters::default())
                .await?;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            let mut docs: Vec<String> = Vec::with_capacity(DEPTH);
            for hit in found.hits {
                let id = hit
                    .source
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
                if !docs.contains(&id) {
                    docs.push(id);
                }
                if docs.len() == DEPTH {
                    break;
                }
            }
            run.insert(query.id.clone(), docs);
        }
        let summary = beir::evaluate(&dataset.qrels, &run, &[10, 100])?.summary()?;
        let (p50, p95) = beir::percentiles(&latencies).unwrap_or((0.0, 0.0));
        eprintln!(
            "{}: nDCG@10 {:.4}, Recall@10 {:.4}, Recall@100 {:.4}, MRR@10 {:.4}, p50 {p50:.1} ms, p95 {p95:.1} ms",
            mode.name(),
            summary.ndcg_at_10,
            summary.recall_at_10,
            summary.recall_at_100,
            summary.mrr_at_10
        );
        out.insert(
            mode.name().to_string(),
            ModeReport {
                metrics: summary,
                p50_ms: p50,
                p95_ms: p95,
            },
        );
    }
    Ok(out)
}

/// The corpus as one document per BEIR doc (title as its heading); unchanged ones are skipped,
/// then every chunk without a vector is embedded in large batches.
async fn index_corpus(
    rag: &Rag,
    dataset: &Dataset,
    name: &str,
    tenant: &str,
) -> anyhow::Result<()> {
    let counter = rag.counter().await.map_err(anyhow::Error::msg)?;
    let options = IndexOptions {
        tenant: tenant.into(),
        kind: "doc".into(),
        lang: Some(Lang::En),
        max_bytes: u64::MAX,
        chunks: rag.settings.chunks,
    };
    let started = Instant::now();
    let mut report = IndexReport::default();
    for (i, doc) in dataset.corpus.iter().enumerate() {
        let source = SourceDoc {
            source: format!("beir://{name}/{}", doc.id),
            title: doc.title.clone(),
            sections: vec![Section {
                heading_path: doc.title.clone(),
                text: doc.text.clone(),
            }],
        };
        if source.sections[0].text.trim().is_empty() {
            continue;
        }
        index_one(rag.store(), None, &counter, &source, &options, &mut report).await?;
        if (i + 1) % 1000 == 0 {
            eprintln!("  stored {}/{} documents", i + 1, dataset.corpus.len());
        }
    }
    let Some(embedder) = rag.embedder().await.map_err(anyhow::Error::msg)? else {
        return Ok(());
    };
    let store: &RagStore = rag.store();
    if store.active_model().await?.is_none() {
        store
            .activate(embedder.model_id(), embedder.dimension())
            .await?;
    }
    let embedded = embed_missing(store, embedder.as_ref(), Some(tenant), &|embedded, rate| {
        eprintln!("  embedded {embedded} chunks ({rate:.0} chunks/s)");
    })
    .await?;
    eprintln!(
        "  corpus ready: {} new, {} unchanged documents; {} chunks embedded; {:.1} s",
        report.indexed,
        report.unchanged,
        embedded,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
