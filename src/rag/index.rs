//! Indexing files into the retrieval store: walk the paths, read and chunk each supported file,
//! write it in its own transaction with its embeddings (a file that fails leaves its previous
//! version intact), skip unchanged files by hash, and delete documents whose files are gone.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use super::chunk::{ChunkSettings, TokenCounter, chunk};
use super::documents::{self, SourceDoc};
use super::embed::{EmbedError, Embedder};
use super::lang::{self, Lang};
use super::store::{RagStore, StoreError, sha256_hex};

/// How to index.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    pub tenant: String,
    /// runbook, doc or incident.
    pub kind: String,
    /// Forced language; detected per document when `None`.
    pub lang: Option<Lang>,
    pub max_bytes: u64,
    pub chunks: ChunkSettings,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IndexReport {
    pub files: usize,
    pub indexed: usize,
    pub unchanged: usize,
    /// `path: reason` for every file that was not indexed.
    pub failed: Vec<String>,
    pub removed_documents: u64,
    pub chunks_added: usize,
    pub chunks_kept: usize,
    pub chunks_removed: usize,
    pub seconds: f64,
    pub chunks_per_second: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("embedding failed: {0}")]
    Embed(#[from] EmbedError),
    #[error("{0}: no such file or directory")]
    Missing(String),
    #[error("kind {0:?} is not one of runbook, doc, incident")]
    Kind(String),
    #[error("tenant must be 1-64 characters of letters, digits, '-', '_', ':' or '.', not {0:?}")]
    Tenant(String),
    #[error(
        "the index serves embeddings of {active:?} but the configured model is {configured:?}: \
         run `steward reindex --embeddings` to re-embed, then index"
    )]
    ModelChanged { active: String, configured: String },
}

/// Checks a tenant name (it ends up in `SET` and logs).
pub fn check_tenant(tenant: &str) -> Result<(), IndexError> {
    let ok = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IndexError::Tenant(tenant.into()))
    }
}

/// Indexes `paths` (files or folders, recursively); `progress(done, total)` after each file.
pub async fn index_paths(
    store: &RagStore,
    embedder: Option<&dyn Embedder>,
    counter: &TokenCounter,
    paths: &[PathBuf],
    options: &IndexOptions,
    progress: &dyn Fn(usize, usize, &IndexReport),
) -> Result<IndexReport, IndexError> {
    check_tenant(&options.tenant)?;
    if !["runbook", "doc", "incident"].contains(&options.kind.as_str()) {
        return Err(IndexError::Kind(options.kind.clone()));
    }
    if let Some(embedder) = embedder {
        match store.active_model().await? {
            Some((active, _)) if active != embedder.model_id() => {
                return Err(IndexError::ModelChanged {
                    active,
                    configured: embedder.model_id().into(),
                });
            }
            Some(_) => {
                store
                    .check_model(embedder.model_id(), embedder.dimension())
                    .await?
            }
            None => {
                store
                    .activate(embedder.model_id(), embedder.dimension())
                    .await?
            }
        }
    }
    let started = Instant::now();
    let mut report = IndexReport::default();
    let mut files: Vec<(PathBuf, Option<String>)> = Vec::new();
    for path in paths {
        let canonical = std::fs::canonicalize(path)
            .map_err(|_| IndexError::Missing(path.display().to_string()))?;
        if canonical.is_dir() {
            let root = format!("{}/", canonical.display());
            let mut found = Vec::new();
            walk(&canonical, &mut found);
            found.sort();
            files.extend(found.into_iter().map(|f| (f, Some(root.clone()))));
        } else {
            files.push((canonical, None));
        }
    }
    report.files = files.len();
    let mut seen_per_root: Vec<(String, Vec<String>)> = Vec::new();
    for (i, (file, root)) in files.iter().enumerate() {
        let source = file.display().to_string();
        if let Some(root) = root {
            match seen_per_root.iter_mut().find(|(r, _)| r == root) {
                Some((_, seen)) => seen.push(source.clone()),
                None => seen_per_root.push((root.clone(), vec![source.clone()])),
            }
        }
        match documents::load(file, options.max_bytes) {
            Ok(doc) => {
                if let Err(e) =
                    index_one(store, embedder, counter, &doc, options, &mut report).await
                {
                    report.failed.push(format!("{source}: {e}"));
                }
            }
            Err(e) => report.failed.push(e.to_string()),
        }
        report.seconds = started.elapsed().as_secs_f64();
        progress(i + 1, files.len(), &report);
    }
    for (root, seen) in &seen_per_root {
        report.removed_documents += store.remove_missing(&options.tenant, root, seen).await?;
    }
    report.seconds = started.elapsed().as_secs_f64();
    report.chunks_per_second = if report.seconds > 0.0 {
        report.chunks_added as f64 / report.seconds
    } else {
        0.0
    };
    Ok(report)
}

/// One document in one transaction: chunks, embeddings of the new chunks, commit.
pub async fn index_one(
    store: &RagStore,
    embedder: Option<&dyn Embedder>,
    counter: &TokenCounter,
    doc: &SourceDoc,
    options: &IndexOptions,
    report: &mut IndexReport,
) -> Result<(), IndexError> {
    let text = doc.full_text();
    let lang = options.lang.unwrap_or_else(|| lang::detect(&text));
    let hash = sha256_hex(&format!("{}\n{}\n{}", options.kind, lang.code(), text));
    // Chunking costs tokenizer time: skip it for a document that has not changed.
    if store
        .is_current(&options.tenant, &doc.source, &hash)
        .await?
    {
        report.unchanged += 1;
        return Ok(());
    }
    let chunks = chunk(doc, counter, options.chunks);
    let (change, pending, mut tx) = store
        .upsert_document(
            &options.tenant,
            &doc.source,
            &doc.title,
            &options.kind,
            lang,
            &hash,
            &chunks,
        )
        .await?;
    if let Some(embedder) = embedder
        && !pending.is_empty()
    {
        let texts: Vec<String> = pending.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        let rows: Vec<(i64, Vec<f32>)> = pending.iter().map(|(id, _)| *id).zip(vectors).collect();
        RagStore::insert_embeddings(&mut tx, embedder.model_id(), &rows).await?;
    }
    tx.commit().await.map_err(StoreError::Sql)?;
    if change.unchanged {
        report.unchanged += 1;
    } else {
        report.indexed += 1;
    }
    report.chunks_added += change.chunks_added;
    report.chunks_kept += change.chunks_kept;
    report.chunks_removed += change.chunks_removed;
    Ok(())
}

/// Embeds, in batches, every chunk (of `tenant`, or of all tenants) that has no vector of the
/// embedder's model yet; `progress(embedded, chunks_per_second)` after each batch. Returns how
/// many chunks were embedded.
pub async fn embed_missing(
    store: &RagStore,
    embedder: &dyn Embedder,
    tenant: Option<&str>,
    progress: &dyn Fn(usize, f64),
) -> Result<usize, IndexError> {
    let model = embedder.model_id();
    let started = Instant::now();
    let mut embedded = 0usize;
    loop {
        let batch = store.missing_embeddings(tenant, model, 256).await?;
        if batch.is_empty() {
            return Ok(embedded);
        }
        let texts: Vec<String> = batch.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        let rows: Vec<(i64, Vec<f32>)> = batch.iter().map(|(id, _)| *id).zip(vectors).collect();
        let mut tx = store.pool().begin().await.map_err(StoreError::Sql)?;
        RagStore::insert_embeddings(&mut tx, model, &rows).await?;
        tx.commit().await.map_err(StoreError::Sql)?;
        embedded += batch.len();
        progress(
            embedded,
            embedded as f64 / started.elapsed().as_secs_f64().max(1e-9),
        );
    }
}

/// Every file below `dir` (hidden entries skipped).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}
