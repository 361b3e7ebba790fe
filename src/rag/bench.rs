//! `steward bench retrieval --chunks N`: indexing throughput with the real embedder, then query
//! latency p50/p95 per mode over N chunks (synthetic text and vectors generated in SQL, kept in
//! a `bench-N` tenant and reused), next to the same statements run as raw SQL (the floor).

use std::time::Instant;

use serde::Serialize;
use sqlx::AssertSqlSafe;

use super::beir::percentiles;
use super::documents::{Section, SourceDoc};
use super::index::{IndexOptions, IndexReport, index_one};
use super::lang::Lang;
use super::search::{Filters, Mode, Retriever, fulltext_ranking, vector_ranking};
use super::service::Rag;
use steward_tools::warehouse::names::quote_literal;

/// `steward bench retrieval`
#[derive(Debug, Clone, clap::Args)]
pub struct BenchRetrievalCommand {
    /// Chunks in the benchmark tenant.
    #[arg(long, default_value_t = 10_000)]
    pub chunks: usize,
    /// Queries timed per mode.
    #[arg(long, default_value_t = 200)]
    pub queries: usize,
    /// Chunks embedded and stored to measure indexing throughput.
    #[arg(long, default_value_t = 200)]
    pub index_sample: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p95_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModeBench {
    /// Steward's search (tenant check, RLS scope, both signals, fusion, rows), query already
    /// embedded.
    pub steward: Latency,
    /// The same ranking statements alone (hybrid's two at once, as Steward runs them).
    pub raw_sql: Latency,
    /// steward p50 / raw p50.
    pub overhead: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub chunks: usize,
    pub indexing_chunks_per_second: f64,
    pub query_embedding: Latency,
    pub modes: std::collections::BTreeMap<String, ModeBench>,
}

const VOCABULARY: &str = "orders payments events freshness volume null spike drift schema \
    partition loader scheduler credentials warehouse table column backfill reload snapshot \
    feature model churn risk latency alert pager oncall runbook incident postmortem kafka \
    consumer topic offset lag retry timeout quota disk memory cpu replica primary failover \
    index vacuum analyze query plan join filter aggregate window duplicate key constraint";

fn words() -> Vec<&'static str> {
    VOCABULARY.split_whitespace().collect()
}

/// Deterministic pseudo-random text of `n` words for seed `seed`.
fn text(seed: u64, n: usize) -> String {
    let words = words();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            words[(x % words.len() as u64) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

pub async fn run(rag: &Rag, command: BenchRetrievalCommand) -> anyhow::Result<BenchReport> {
    let Some(embedder) = rag.embedder().await.map_err(anyhow::Error::msg)? else {
        anyhow::bail!("the benchmark needs an embedder ([rag] embedder is \"none\")");
    };
    let store = rag.store();
    let (model, dim) = (embedder.model_id().to_string(), embedder.dimension());
    if store.active_model().await?.is_none() {
        store.activate(&model, dim).await?;
    }

    // Indexing throughput: real chunks through the real embedder and store.
    let counter = rag.counter().await.map_err(anyhow::Error::msg)?;
    let options = IndexOptions {
        tenant: "bench-indexing".into(),
        kind: "doc".into(),
        lang: Some(Lang::En),
        max_bytes: u64::MAX,
        chunks: rag.settings.chunks,
    };
    sqlx::query("DELETE FROM steward.rag_documents WHERE tenant = 'bench-indexing'")
        .execute(store.pool())
        .await?;
    let mut report = IndexReport::default();
    let started = Instant::now();
    for i in 0..command.index_sample.div_ceil(10) {
        let doc = SourceDoc {
            source: format!("bench://indexing/{i}"),
            title: format!("Bench {i}"),
            sections: (0..10)
                .map(|s| Section {
                    heading_path: format!("Bench {i} > Part {s}"),
                    text: text((i * 10 + s) as u64, 60),
                })
                .collect(),
        };
        index_one(
            store,
            Some(embedder.as_ref()),
            &counter,
            &doc,
            &options,
            &mut report,
        )
        .await?;
    }
    let indexing = report.chunks_added as f64 / started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "indexing: {} chunks at {indexing:.0} chunks/s",
        report.chunks_added
    );

    let tenant = format!("bench-{}", command.chunks);
    let have: i64 = sqlx::query_scalar("SELECT count(*) FROM steward.rag_chunks WHERE tenant = $1")
        .bind(&tenant)
        .fetch_one(store.pool())
        .await?;
    if have as usize != command.chunks {
        eprintln!(
            "generating {} chunks in tenant {tenant} (reused next time)",
            command.chunks
        );
        generate(rag, &tenant, command.chunks, &model, dim).await?;
    }

    let queries: Vec<String> = (0..command.queries)
        .map(|i| text(1_000_000 + i as u64, 3))
        .collect();
    let mut embed_ms = Vec::new();
    let mut vectors = Vec::new();
    for q in &queries {
        let started = Instant::now();
        let mut v = embedder.embed(std::slice::from_ref(q)).await?;
        embed_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        vectors.push(v.pop().unwrap_or_default());
    }
    let retriever = rag.retriever().await.map_err(anyhow::Error::msg)?;
    let filters = Filters::default();
    let mut modes = std::collections::BTreeMap::new();
    for mode in [Mode::Bm25, Mode::Vector, Mode::Hybrid] {
        let (mut steward_ms, mut raw_ms) = (Vec::new(), Vec::new());
        for (i, (q, v)) in queries.iter().zip(&vectors).enumerate() {
            let query_vector = (mode != Mode::Bm25).then(|| (model.clone(), v.clone()));
            let steward = async || -> anyhow::Result<f64> {
                let started = Instant::now();
                retriever
                    .search_embedded(&tenant, q, query_vector.clone(), 10, mode, &filters)
                    .await?;
                Ok(started.elapsed().as_secs_f64() * 1000.0)
            };
            let raw = async || -> anyhow::Result<f64> {
                let started = Instant::now();
                raw_rankings(&retriever, &tenant, mode, q, (&model, v), &filters).await?;
                Ok(started.elapsed().as_secs_f64() * 1000.0)
            };
            // Warm the pages this query touches, then alternate which side goes first, so
            // neither is always the one that finds them cached.
            steward().await?;
            if i % 2 == 0 {
                steward_ms.push(steward().await?);
                raw_ms.push(raw().await?);
            } else {
                raw_ms.push(raw().await?);
                steward_ms.push(steward().await?);
            }
        }
        let (sp50, sp95) = percentiles(&steward_ms).unwrap_or_default();
        let (rp50, rp95) = percentiles(&raw_ms).unwrap_or_default();
        eprintln!(
            "{}: steward p50 {sp50:.2} ms p95 {sp95:.2} ms; raw SQL p50 {rp50:.2} ms p95 {rp95:.2} ms",
            mode.name()
        );
        modes.insert(
            mode.name().to_string(),
            ModeBench {
                steward: Latency {
                    p50_ms: sp50,
                    p95_ms: sp95,
                },
                raw_sql: Latency {
                    p50_ms: rp50,
                    p95_ms: rp95,
                },
                overhead: if rp50 > 0.0 { sp50 / rp50 } else { 0.0 },
            },
        );
    }
    let (ep50, ep95) = percentiles(&embed_ms).unwrap_or_default();
    Ok(BenchReport {
        chunks: command.chunks,
        indexing_chunks_per_second: indexing,
        query_embedding: Latency {
            p50_ms: ep50,
            p95_ms: ep95,
        },
        modes,
    })
}

/// The ranking statements alone, each in a tenant-scoped transaction; hybrid runs its two at
/// once on two connections, as the retriever does.
async fn raw_rankings(
    retriever: &Retriever,
    tenant: &str,
    mode: Mode,
    query: &str,
    (model, vector): (&str, &[f32]),
    filters: &Filters,
) -> anyhow::Result<()> {
    let (store, depth) = (retriever.store(), retriever.candidates.max(10));
    let exact_max_chunks = retriever.exact_search_max_chunks;
    let vector = async {
        if mode != Mode::Bm25 {
            let mut tx = store.tenant_scope(tenant).await?;
            vector_ranking(&mut tx, model, vector, depth, exact_max_chunks, filters).await?;
            tx.commit().await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    let fulltext = async {
        if mode != Mode::Vector {
            let mut tx = store.tenant_scope(tenant).await?;
            fulltext_ranking(&mut tx, query, depth, filters).await?;
            tx.commit().await?;
        }
        Ok::<_, anyhow::Error>(())
    };
    tokio::try_join!(vector, fulltext)?;
    Ok(())
}

/// N chunks of synthetic English text (60 words from the vocabulary) with deterministic
/// pseudo-random vectors, 10 chunks per document, written in SQL.
async fn generate(
    rag: &Rag,
    tenant: &str,
    chunks: usize,
    model: &str,
    dim: usize,
) -> anyhow::Result<()> {
    let pool = rag.store().pool();
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM steward.rag_documents WHERE tenant = $1")
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    let vocabulary: Vec<String> = words().iter().map(|w| quote_literal(w)).collect();
    let sql = format!(
        "WITH docs AS (
             INSERT INTO steward.rag_documents (tenant, source, title, kind, lang, content_hash)
             SELECT {t}, 'bench://' || d, 'Bench document ' || d, 'doc', 'en', md5(d::text)
             FROM generate_series(1, {docs}) d RETURNING id, title)
         INSERT INTO steward.rag_chunks (document_id, tenant, ordinal, heading_path, content,
                                         content_hash, ts_config)
         SELECT docs.id, {t}, o, docs.title,
                (SELECT string_agg((ARRAY[{vocab}])[1 + abs(hashtext(docs.id || ':' || o || ':' || w)) % {n}], ' ')
                 FROM generate_series(1, 60) w),
                md5(docs.id || ':' || o), 'english'::regconfig
         FROM docs CROSS JOIN generate_series(0, 9) o
         ORDER BY docs.id, o LIMIT {chunks}",
        t = quote_literal(tenant),
        docs = chunks.div_ceil(10),
        vocab = vocabulary.join(", "),
        n = vocabulary.len(),
    );
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    let sql = format!(
        "INSERT INTO steward.rag_embeddings (chunk_id, tenant, model, dim, embedding)
         SELECT c.id, c.tenant, {model}, {dim},
                (SELECT array_agg((hashtext(c.id || ':' || i) / 2147483648.0)::real)
                 FROM generate_series(1, {dim}) i)::vector
         FROM steward.rag_chunks c WHERE c.tenant = {t}",
        model = quote_literal(model),
        t = quote_literal(tenant),
    );
    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
    tx.commit().await?;
    sqlx::raw_sql(
        "ANALYZE steward.rag_chunks; ANALYZE steward.rag_embeddings; ANALYZE steward.rag_documents",
    )
    .execute(pool)
    .await?;
    Ok(())
}
