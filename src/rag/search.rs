//! Retrieval for one tenant: vector top-k (cosine over the active model's HNSW index),
//! language-aware BM25 top-k (each chunk matched with its own language's stemming) and
//! their Reciprocal Rank Fusion; every hit carries its rank and score per signal.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, Postgres, Transaction};

use super::embed::{EmbedError, Embedder};
use super::fusion::{RrfConfig, SignalRank, fuse};
use super::lang::{Lang, detect};
use super::rerank::CrossEncoder;
use super::store::{RagStore, StoreError, comparable, embedding_text, vector_literal};
use steward_tools::warehouse::names::quote_literal;

/// Fused candidates the cross-encoder scores in hybrid+rerank mode.
pub const RERANK_DEPTH: usize = 20;

/// Which signals rank the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Full text only: BM25 over any of the query's words.
    Bm25,
    Vector,
    Hybrid,
    /// Hybrid candidates reordered by the cross-encoder.
    #[serde(rename = "hybrid+rerank")]
    HybridRerank,
}

impl Mode {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "bm25" => Ok(Self::Bm25),
            "vector" => Ok(Self::Vector),
            "hybrid" => Ok(Self::Hybrid),
            "hybrid+rerank" => Ok(Self::HybridRerank),
            other => Err(format!(
                "{other:?} is not a retrieval mode: use bm25, vector, hybrid or hybrid+rerank"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Bm25 => "bm25",
            Self::Vector => "vector",
            Self::Hybrid => "hybrid",
            Self::HybridRerank => "hybrid+rerank",
        }
    }
}

/// Narrows what is searched.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Only these kinds: runbook, doc, incident.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only sources starting with this (a folder or a file).
    #[serde(default)]
    pub source_prefix: Option<String>,
}

/// One retrieved chunk.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Hit {
    /// 1-based position in the results (what `[N]` citations refer to).
    pub rank: usize,
    pub chunk_id: i64,
    pub source: String,
    pub title: String,
    pub heading_path: String,
    pub kind: String,
    pub lang: String,
    pub content: String,
    /// The fused score (RRF), or the single signal's score.
    pub score: f64,
    pub vector: Option<SignalRank>,
    pub fulltext: Option<SignalRank>,
    /// The cross-encoder's score, in hybrid+rerank mode.
    pub rerank: Option<f64>,
}

/// Hits, and why there are none when there are none.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SearchResult {
    pub mode: Mode,
    pub hits: Vec<Hit>,
    /// Set when a signal could not contribute (e.g. a query of stop words only).
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("tenant {tenant:?} has no indexed documents; tenants with documents: {}", if known.is_empty() { "none (run `steward index`)".to_string() } else { known.join(", ") })]
    UnknownTenant { tenant: String, known: Vec<String> },
    #[error("the query is empty")]
    EmptyQuery,
    #[error("no embedding model is configured, so vector and hybrid search are unavailable")]
    NoEmbedder,
    #[error(
        "no reranker is configured: set [rag] reranker_dir to a cross-encoder's folder (model.onnx + tokenizer.json)"
    )]
    NoReranker,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
}

impl From<sqlx::Error> for SearchError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::Sql(e))
    }
}

/// Runs searches against the store with the configured embedder.
#[derive(Clone)]
pub struct Retriever {
    store: RagStore,
    embedder: Option<Arc<dyn Embedder>>,
    reranker: Option<CrossEncoder>,
    pub rrf: RrfConfig,
    /// Candidates taken from each signal before fusion.
    pub candidates: usize,
    /// See [`vector_ranking`].
    pub exact_search_max_chunks: u64,
}

impl Retriever {
    pub fn new(store: RagStore, embedder: Option<Arc<dyn Embedder>>) -> Self {
        Self {
            store,
            embedder,
            reranker: None,
            rrf: RrfConfig::default(),
            candidates: 50,
            exact_search_max_chunks: 10_000,
        }
    }

    pub fn store(&self) -> &RagStore {
        &self.store
    }

    /// Adds the cross-encoder `hybrid+rerank` uses.
    pub fn with_reranker(mut self, reranker: Option<CrossEncoder>) -> Self {
        self.reranker = reranker;
        self
    }

    pub async fn search(
        &self,
        tenant: &str,
        query: &str,
        k: usize,
        mode: Mode,
        filters: &Filters,
    ) -> Result<SearchResult, SearchError> {
        let query = query.trim();
        if query.is_empty() {
            return Err(SearchError::EmptyQuery);
        }
        let (has_tenant, active_model) = self.store.search_preflight(tenant).await?;
        if !has_tenant {
            return Err(SearchError::UnknownTenant {
                tenant: tenant.into(),
                known: self.store.tenants().await?,
            });
        }
        let query_vector = match mode {
            Mode::Bm25 => None,
            Mode::Vector | Mode::Hybrid | Mode::HybridRerank => {
                if mode == Mode::HybridRerank && self.reranker.is_none() {
                    return Err(SearchError::NoReranker);
                }
                let embedder = self.embedder.as_ref().ok_or(SearchError::NoEmbedder)?;
                comparable(active_model, embedder.model_id(), embedder.dimension())?;
                let mut vectors = embedder.embed(&[query.to_string()]).await?;
                Some((
                    embedder.model_id().to_string(),
                    vectors.pop().unwrap_or_default(),
                ))
            }
        };
        self.search_embedded(tenant, query, query_vector, k, mode, filters)
            .await
    }

    /// The search once the query is embedded (`(model, vector)` for vector and hybrid modes);
    /// benchmarks call it to time retrieval without the model.
    pub async fn search_embedded(
        &self,
        tenant: &str,
        query: &str,
        query_vector: Option<(String, Vec<f32>)>,
        k: usize,
        mode: Mode,
        filters: &Filters,
    ) -> Result<SearchResult, SearchError> {
        let depth = self.candidates.max(k);
        let mut tx = self.store.tenant_scope(tenant).await?;
        let mut notes = Vec::new();
        let (vector, (fulltext, only_stop_words)) = match (mode, &query_vector) {
            (Mode::Vector, Some((model, v))) => (
                vector_ranking(
                    &mut tx,
                    model,
                    v,
                    depth,
                    self.exact_search_max_chunks,
                    filters,
                )
                .await?,
                (Vec::new(), false),
            ),
            (Mode::Vector, None) => (Vec::new(), (Vec::new(), false)),
            (Mode::Bm25, _) | (Mode::Hybrid | Mode::HybridRerank, None) => (
                Vec::new(),
                fulltext_ranking(&mut tx, query, depth, filters).await?,
            ),
            // Both signals at once, each on its own connection (Postgres runs one statement
            // per backend): the hybrid waits for the slower signal, not for their sum.
            (Mode::Hybrid | Mode::HybridRerank, Some((model, v))) => {
                let vector = async {
                    let mut scope = self.store.tenant_scope(tenant).await?;
                    let ranking = vector_ranking(
                        &mut scope,
                        model,
                        v,
                        depth,
                        self.exact_search_max_chunks,
                        filters,
                    )
                    .await?;
                    scope.commit().await?;
                    Ok::<_, SearchError>(ranking)
                };
                tokio::try_join!(vector, fulltext_ranking(&mut tx, query, depth, filters))?
            }
        };
        if only_stop_words {
            notes.push(
                "the query has only stop words: full-text search matched nothing".to_string(),
            );
        }
        let fused = fuse(&vector, &fulltext, self.rrf);
        // The cross-encoder reorders a deeper candidate list than it returns.
        let keep = if mode == Mode::HybridRerank {
            RERANK_DEPTH.max(k)
        } else {
            k
        };
        let top: Vec<_> = fused.into_iter().take(keep).collect();
        let ids: Vec<i64> = top.iter().map(|h| h.chunk_id).collect();
        let rows: Vec<(i64, String, String, String, String, String, String)> = sqlx::query_as(
            "SELECT c.id, d.source, d.title, c.heading_path, d.kind, d.lang, c.content \
             FROM steward.rag_chunks c JOIN steward.rag_documents d ON d.id = c.document_id \
             WHERE c.id = ANY($1)",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let hits = top
            .into_iter()
            .filter_map(|f| {
                let row = rows.iter().find(|r| r.0 == f.chunk_id)?;
                let score = match mode {
                    Mode::Hybrid | Mode::HybridRerank => f.rrf,
                    Mode::Vector => f.vector.map_or(0.0, |s| s.score),
                    Mode::Bm25 => f.fulltext.map_or(0.0, |s| s.score),
                };
                Some(Hit {
                    rank: 0,
                    chunk_id: f.chunk_id,
                    source: row.1.clone(),
                    title: row.2.clone(),
                    heading_path: row.3.clone(),
                    kind: row.4.clone(),
                    lang: row.5.clone(),
                    content: row.6.clone(),
                    score,
                    vector: f.vector,
                    fulltext: f.fulltext,
                    rerank: None,
                })
            })
            .collect::<Vec<_>>();
        let mut hits = hits;
        if let (Mode::HybridRerank, Some(reranker)) = (mode, &self.reranker) {
            let passages = hits
                .iter()
                .map(|h| embedding_text(&h.heading_path, &h.content))
                .collect();
            let scores = reranker.score(query, passages).await?;
            for (hit, score) in hits.iter_mut().zip(scores) {
                hit.rerank = Some(f64::from(score));
                hit.score = f64::from(score);
            }
            // Stable: equal scores keep their fused order.
            hits.sort_by(|a, b| b.score.total_cmp(&a.score));
            hits.truncate(k);
        }
        for (i, hit) in hits.iter_mut().enumerate() {
            hit.rank = i + 1;
        }
        if hits.is_empty() && notes.is_empty() {
            notes.push("no chunk matched the query".into());
        }
        Ok(SearchResult { mode, hits, notes })
    }
}

fn filter_sql(filters: &Filters) -> String {
    let mut sql = String::new();
    if !filters.kinds.is_empty() {
        let kinds: Vec<String> = filters.kinds.iter().map(|k| quote_literal(k)).collect();
        sql.push_str(&format!(" AND d.kind IN ({})", kinds.join(", ")));
    }
    if let Some(prefix) = &filters.source_prefix {
        sql.push_str(&format!(
            " AND starts_with(d.source, {})",
            quote_literal(prefix)
        ));
    }
    sql
}

/// The joins and conditions that apply `filters` to rows keyed by `chunk_id` (none without
/// filters: row-level security alone scopes every table to the tenant).
fn filter_join(filters: &Filters, chunk_id: &str) -> (String, String) {
    let filter = filter_sql(filters);
    if filter.is_empty() {
        return (String::new(), filter);
    }
    let join = format!(
        " JOIN steward.rag_chunks c ON c.id = {chunk_id} \
         JOIN steward.rag_documents d ON d.id = c.document_id"
    );
    (join, filter)
}

/// `(chunk_id, cosine similarity)`, best first. A tenant with more than `exact_max_chunks`
/// chunks is searched through the model's HNSW index, which serves every tenant: iterative
/// scans keep walking the graph until enough rows pass the tenant's row-level security
/// filter. A smaller tenant is scanned exactly through its tenant index: cheap at that size,
/// and the graph walk could stop (at `hnsw.max_scan_tuples`) before finding a small tenant's
/// rows among many others'.
pub(crate) async fn vector_ranking(
    tx: &mut Transaction<'static, Postgres>,
    model: &str,
    vector: &[f32],
    depth: usize,
    exact_max_chunks: u64,
    filters: &Filters,
) -> Result<Vec<(i64, f64)>, SearchError> {
    let dim = vector.len();
    // HNSW returns at most ef_search candidates; ask for at least as many as wanted. No
    // parallel workers: launching them for the branch that is switched off costs 6 ms.
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = strict_order; \
         SET LOCAL max_parallel_workers_per_gather = 0",
        depth.clamp(40, 1000)
    )))
    .execute(&mut **tx)
    .await?;
    // Chunks and documents are joined only to filter: joined, the planner prefers an exact
    // scan of the whole tenant over the HNSW index.
    let (join, filter) = filter_join(filters, "e.chunk_id");
    let distance = format!("e.embedding::vector({dim}) <=> $1::vector({dim})");
    // One statement, two plans: the tenant's size (an init plan, run once) switches off one
    // branch. `+ 0` keeps the exact branch's ordering off the index.
    let branch = |order: &str, condition: &str| {
        format!(
            "(SELECT e.chunk_id, 1 - ({distance}) AS score FROM steward.rag_embeddings e{join} \
             WHERE e.model = {model}{filter} AND (SELECT chunks FROM size) {condition} \
             ORDER BY {order} LIMIT $2)",
            model = quote_literal(model),
        )
    };
    let sql = format!(
        "WITH size AS (SELECT coalesce(sum(chunks), 0) AS chunks FROM steward.rag_corpus \
                       WHERE tenant = current_setting('steward.tenant', true)) \
         {} UNION ALL {} ORDER BY score DESC",
        branch(&distance, "> $3"),
        branch(&format!("({distance}) + 0"), "<= $3"),
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(vector_literal(vector))
        .bind(depth as i64)
        .bind(exact_max_chunks as i64)
        .fetch_all(&mut **tx)
        .await?)
}

/// Postings read per query word and language, best impact first: enough that the top
/// candidates are exact for words in fewer chunks than this, and a bounded read for common ones.
pub const POSTINGS_PER_WORD: i64 = 1000;

/// `(chunk_id, BM25 score)`, best first (k1 1.2, b 0.75, Lucene's IDF), each chunk matched
/// with its own language's lexemes of the query; each word reads at most
/// [`POSTINGS_PER_WORD`] postings in impact order. Also says whether the query was only
/// stop words.
pub(crate) async fn fulltext_ranking(
    tx: &mut Transaction<'static, Postgres>,
    query: &str,
    depth: usize,
    filters: &Filters,
) -> Result<(Vec<(i64, f64)>, bool), SearchError> {
    let (join, filter) = filter_join(filters, "p.chunk_id");
    let sql = format!(
        "WITH words AS ( \
             SELECT cfg, u.lexeme, coalesce(cardinality(u.positions), 1) AS qtf \
             FROM unnest('{{english,spanish,simple}}'::regconfig[]) cfg, \
                  unnest(to_tsvector(cfg, $1)) u), \
         terms AS ( \
             SELECT w.cfg, w.lexeme, w.qtf, s.total_len::float8 / s.chunks AS avg_len, \
                    ln(1 + ((s.chunks - l.df)::float8 + 0.5) / (l.df::float8 + 0.5)) AS idf \
             FROM words w \
             JOIN steward.rag_corpus s ON s.tenant = current_setting('steward.tenant', true) \
                  AND s.ts_config = w.cfg AND s.chunks > 0 \
             JOIN steward.rag_lexicon l ON l.tenant = s.tenant AND l.ts_config = w.cfg \
                  AND l.lexeme = w.lexeme AND l.df > 0) \
         SELECT p.chunk_id, sum(t.qtf * t.idf * p.tf * 2.2::float8 \
                / (p.tf + 1.2::float8 * (0.25::float8 + 0.75::float8 * p.len / t.avg_len))) AS score \
         FROM terms t CROSS JOIN LATERAL ( \
             SELECT p.chunk_id, p.tf, p.len FROM steward.rag_postings p{join} \
             WHERE p.tenant = current_setting('steward.tenant', true) \
               AND p.ts_config = t.cfg AND p.lexeme = t.lexeme{filter} \
             ORDER BY p.impact DESC LIMIT $3) p \
         GROUP BY p.chunk_id ORDER BY score DESC, p.chunk_id LIMIT $2",
    );
    let ranking: Vec<(i64, f64)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(query)
        .bind(depth as i64)
        .bind(POSTINGS_PER_WORD)
        .fetch_all(&mut **tx)
        .await?;
    let only_stop_words = if ranking.is_empty() {
        let (en, es): (i32, i32) = sqlx::query_as(
            "SELECT numnode(plainto_tsquery('english', $1)), \
                    numnode(plainto_tsquery('spanish', $1))",
        )
        .bind(query)
        .fetch_one(&mut **tx)
        .await?;
        // Stop words of the query's own language (English "the" is a word in Spanish).
        match detect(query) {
            Lang::En => en == 0,
            Lang::Es => es == 0,
            Lang::Simple => en == 0 && es == 0,
        }
    } else {
        false
    };
    Ok((ranking, only_stop_words))
}
