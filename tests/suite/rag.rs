//! Retrieval on the real Postgres + pgvector and the real int8 MiniLM model: incremental
//! indexing, tenant isolation by row-level security, hybrid search with per-signal ranks, bad
//! files and queries, a failed document leaving its previous version intact, a dimension
//! mismatch, and the `ask` / `eval retrieval` commands.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use steward::config::Config;
use steward::rag::embed::{EmbedError, Embedder};
use steward::rag::index::{IndexOptions, IndexReport, index_paths};
use steward::rag::search::{Filters, Mode};
use steward::rag::service::Rag;

use crate::common::{TestDb, steward_bin};

const MODEL_VARS: [&str; 3] = [
    "STEWARD_EMBED_MODEL",
    "STEWARD_EMBED_TOKENIZER",
    "ORT_DYLIB_PATH",
];

fn env_with_model(db: &TestDb) -> std::collections::BTreeMap<String, String> {
    let mut env = db.env();
    for var in MODEL_VARS {
        let value = std::env::var(var).unwrap_or_else(|_| {
            panic!("{var} is not set: run `make test`, or `eval \"$(scripts/dev-services env)\"`")
        });
        env.insert(var.into(), value);
    }
    env
}

async fn rag(db: &TestDb) -> Rag {
    let config = Config::load(None, &env_with_model(db)).unwrap();
    Rag::new(config.rag.clone(), db.pool().await)
}

fn options(tenant: &str) -> IndexOptions {
    IndexOptions {
        tenant: tenant.into(),
        kind: "runbook".into(),
        lang: None,
        max_bytes: 4096,
        chunks: Default::default(),
    }
}

async fn index(rag: &Rag, dir: &Path, tenant: &str) -> IndexReport {
    let embedder = rag.embedder().await.unwrap();
    index_paths(
        rag.store(),
        embedder.as_deref(),
        &rag.counter().await.unwrap(),
        &[dir.to_path_buf()],
        &options(tenant),
        &|_, _, _| {},
    )
    .await
    .unwrap()
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const FRESHNESS: &str = "# Freshness runbook\n## Symptoms\nThe orders table is stale: the nightly \
    load did not run.\n## Fix\nRestart the scheduler and reload yesterday's partition.\n";
const NULLS_ES: &str = "# Runbook de nulos\n## Síntomas\nLa columna payment_method aparece vacía \
    en muchos pagos cuando el proveedor cambia el formato de exportación.\n";

#[tokio::test]
async fn indexing_is_incremental_and_removes_deleted_files() {
    let db = TestDb::new().await;
    let rag = rag(&db).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "freshness.md", FRESHNESS);
    write(dir.path(), "nulos.md", NULLS_ES);
    let first = index(&rag, dir.path(), "acme").await;
    assert_eq!((first.files, first.indexed, first.unchanged), (2, 2, 0));
    assert_eq!(first.chunks_added, 3);
    let again = index(&rag, dir.path(), "acme").await;
    assert_eq!(
        (again.indexed, again.unchanged, again.chunks_added),
        (0, 2, 0)
    );

    // One section changes: the other chunks (and their embeddings) stay.
    write(
        dir.path(),
        "freshness.md",
        &FRESHNESS.replace("Restart the scheduler", "Rotate the credentials"),
    );
    let changed = index(&rag, dir.path(), "acme").await;
    assert_eq!(
        (
            changed.indexed,
            changed.unchanged,
            changed.chunks_kept,
            changed.chunks_added,
            changed.chunks_removed
        ),
        // Kept: the unchanged section (an unchanged file is skipped before chunking).
        (1, 1, 1, 1, 1)
    );
    std::fs::remove_file(dir.path().join("nulos.md")).unwrap();
    let removed = index(&rag, dir.path(), "acme").await;
    assert_eq!(removed.removed_documents, 1);
    let pool = db.pool().await;
    let counts: (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM steward.rag_documents), (SELECT count(*) FROM steward.rag_chunks),
                (SELECT count(*) FROM steward.rag_embeddings)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(counts, (1, 2, 2));
    assert_term_statistics_match_the_chunks(&pool).await;
    let (lang, config): (String, String) = sqlx::query_as(
        "SELECT d.lang, c.ts_config::text FROM steward.rag_documents d JOIN steward.rag_chunks c ON c.document_id = d.id LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((lang.as_str(), config.as_str()), ("en", "english"));
}

/// The postings, lexicon and corpus rows the triggers keep equal what the chunks' own
/// tsvectors say, after any sequence of inserts, updates and deletes.
async fn assert_term_statistics_match_the_chunks(pool: &sqlx::PgPool) {
    let (postings, lexemes, lexicon_diff, corpus_diff, zero_rows): (i64, i64, i64, i64, i64) =
        sqlx::query_as(
            "WITH terms AS (SELECT c.id, c.tenant, c.ts_config, u.lexeme,
                                   coalesce(cardinality(u.positions), 1) AS tf
                            FROM steward.rag_chunks c, unnest(c.tsv) u),
                  lexicon AS (SELECT tenant, ts_config, lexeme, count(*)::int AS df
                              FROM terms GROUP BY 1, 2, 3),
                  corpus AS (SELECT tenant, ts_config, count(*) AS chunks, sum(len) AS total_len
                             FROM (SELECT id, tenant, ts_config, sum(tf) AS len FROM terms
                                   GROUP BY 1, 2, 3) c GROUP BY 1, 2)
             SELECT (SELECT count(*) FROM steward.rag_postings),
                    (SELECT count(*) FROM terms),
                    (SELECT count(*) FROM ((SELECT * FROM lexicon EXCEPT
                                            SELECT tenant, ts_config, lexeme, df FROM steward.rag_lexicon)
                                           UNION ALL (SELECT tenant, ts_config, lexeme, df
                                                      FROM steward.rag_lexicon EXCEPT
                                                      SELECT * FROM lexicon)) d),
                    (SELECT count(*) FROM ((SELECT * FROM corpus EXCEPT
                                            SELECT tenant, ts_config, chunks, total_len
                                            FROM steward.rag_corpus WHERE chunks > 0)
                                           UNION ALL (SELECT tenant, ts_config, chunks, total_len
                                                      FROM steward.rag_corpus WHERE chunks > 0
                                                      EXCEPT SELECT * FROM corpus)) d),
                    (SELECT count(*) FROM steward.rag_lexicon WHERE df <= 0)",
        )
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(postings > 0);
    assert_eq!(
        (postings, lexicon_diff, corpus_diff, zero_rows),
        (lexemes, 0, 0, 0)
    );
}

#[tokio::test]
async fn bm25_scores_equal_the_formula_computed_by_hand() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    let document: i64 = sqlx::query_scalar(
        "INSERT INTO steward.rag_documents (tenant, source, title, kind, lang, content_hash)
         VALUES ('acme', 'notes.txt', 'Notes', 'doc', 'simple', 'h') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // Lengths 3, 2 and 1 lexemes: average 2.
    let mut ids = Vec::new();
    for (ordinal, content) in ["alpha beta beta", "alpha gamma", "delta"]
        .iter()
        .enumerate()
    {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO steward.rag_chunks (document_id, tenant, ordinal, heading_path, content,
                                             content_hash, ts_config)
             VALUES ($1, 'acme', $2, '', $3, $3, 'simple') RETURNING id",
        )
        .bind(document)
        .bind(ordinal as i32)
        .bind(content)
        .fetch_one(&pool)
        .await
        .unwrap();
        ids.push(id);
    }
    let retriever = rag(&db).await.retriever().await.unwrap();
    let found = retriever
        .search("acme", "beta alpha", 5, Mode::Bm25, &Filters::default())
        .await
        .unwrap();
    // k1 1.2, b 0.75, N 3; idf = ln(1 + (N - df + 0.5) / (df + 0.5)).
    let idf = |df: f64| (1.0 + (3.0 - df + 0.5) / (df + 0.5)).ln();
    let part = |tf: f64, len: f64| tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / 2.0));
    let first = idf(2.0) * part(1.0, 3.0) + idf(1.0) * part(2.0, 3.0);
    let second = idf(2.0) * part(1.0, 2.0);
    let got: Vec<(i64, f64, Option<usize>)> = found
        .hits
        .iter()
        .map(|h| (h.chunk_id, h.score, h.fulltext.map(|s| s.rank)))
        .collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (got[0].0, got[0].2, got[1].0, got[1].2),
        (ids[0], Some(1), ids[1], Some(2))
    );
    assert!((got[0].1 - first).abs() < 1e-9, "{} vs {first}", got[0].1);
    assert!((got[1].1 - second).abs() < 1e-9, "{} vs {second}", got[1].1);

    // Editing a chunk's text in place and deleting one keep the statistics exact.
    sqlx::query("UPDATE steward.rag_chunks SET content = 'gamma gamma epsilon' WHERE id = $1")
        .bind(ids[2])
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM steward.rag_chunks WHERE id = $1")
        .bind(ids[0])
        .execute(&pool)
        .await
        .unwrap();
    assert_term_statistics_match_the_chunks(&pool).await;
    let gamma = retriever
        .search("acme", "gamma", 5, Mode::Bm25, &Filters::default())
        .await
        .unwrap();
    // N 2, lengths 2 and 3 (average 2.5), df 2.
    let idf = (1.0f64 + (2.0 - 2.0 + 0.5) / 2.5).ln();
    let part = |tf: f64, len: f64| tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / 2.5));
    let got: Vec<(i64, f64)> = gamma.hits.iter().map(|h| (h.chunk_id, h.score)).collect();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![ids[2], ids[1]]
    );
    assert!((got[0].1 - idf * part(2.0, 3.0)).abs() < 1e-9, "{got:?}");
    assert!((got[1].1 - idf * part(1.0, 2.0)).abs() < 1e-9, "{got:?}");
}

#[tokio::test]
async fn a_word_in_more_chunks_than_the_postings_read_still_finds_its_best_chunks() {
    let db = TestDb::new().await;
    let pool = db.pool().await;
    // 1,200 chunks contain "alpha" (more than the 1,000 postings a word reads), inserted
    // longest first: the best BM25 matches, the shortest, come last in insertion order.
    sqlx::query(
        "WITH d AS (INSERT INTO steward.rag_documents (tenant, source, title, kind, lang,
                                                      content_hash)
                    VALUES ('acme', 'many.txt', 'Many', 'doc', 'simple', 'h') RETURNING id)
         INSERT INTO steward.rag_chunks (document_id, tenant, ordinal, heading_path, content,
                                         content_hash, ts_config)
         SELECT d.id, 'acme', g, '', 'alpha' || repeat(' filler', 1200 - g), g::text, 'simple'
         FROM d, generate_series(1, 1200) g",
    )
    .execute(&pool)
    .await
    .unwrap();
    let retriever = rag(&db).await.retriever().await.unwrap();
    let found = retriever
        .search("acme", "alpha", 3, Mode::Bm25, &Filters::default())
        .await
        .unwrap();
    let lengths: Vec<usize> = found
        .hits
        .iter()
        .map(|h| h.content.split(' ').count())
        .collect();
    assert_eq!(lengths, vec![1, 2, 3]);
}

#[tokio::test]
async fn row_level_security_keeps_tenants_apart_even_without_a_where() {
    let db = TestDb::new().await;
    let rag = rag(&db).await;
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    write(a.path(), "freshness.md", FRESHNESS);
    write(b.path(), "nulos.md", NULLS_ES);
    index(&rag, a.path(), "tenant-a").await;
    index(&rag, b.path(), "tenant-b").await;
    let mut tx = rag.store().tenant_scope("tenant-a").await.unwrap();
    let tenants: Vec<String> = sqlx::query_scalar("SELECT DISTINCT tenant FROM steward.rag_chunks")
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    assert_eq!(tenants, vec!["tenant-a".to_string()]);
    for table in ["rag_documents", "rag_postings", "rag_lexicon", "rag_corpus"] {
        let tenants: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT DISTINCT tenant FROM steward.{table}"
        )))
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert_eq!(tenants, vec!["tenant-a".to_string()], "{table}");
    }
    let embeddings: i64 =
        sqlx::query_scalar("SELECT count(*) FROM steward.rag_embeddings WHERE tenant = 'tenant-b'")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    assert_eq!(embeddings, 0);
    // The reader role cannot write either.
    let write = sqlx::query("DELETE FROM steward.rag_chunks")
        .execute(&mut *tx)
        .await;
    assert!(write.unwrap_err().to_string().contains("permission denied"));
    drop(tx);

    let retriever = rag.retriever().await.unwrap();
    let found = retriever
        .search(
            "tenant-a",
            "payment_method proveedor formato",
            5,
            Mode::Hybrid,
            &Filters::default(),
        )
        .await
        .unwrap();
    assert!(!found.hits.is_empty(), "{found:?}");
    assert!(
        found
            .hits
            .iter()
            .all(|h| h.source.ends_with("freshness.md")),
        "{found:?}"
    );
    let unknown = retriever
        .search("tenant-c", "anything", 5, Mode::Hybrid, &Filters::default())
        .await
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "tenant \"tenant-c\" has no indexed documents; tenants with documents: tenant-a, tenant-b"
    );
}

#[tokio::test]
async fn hybrid_search_reports_each_signal_and_handles_bad_queries() {
    let db = TestDb::new().await;
    let rag = rag(&db).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "freshness.md", FRESHNESS);
    write(dir.path(), "nulos.md", NULLS_ES);
    index(&rag, dir.path(), "acme").await;
    let retriever = rag.retriever().await.unwrap();
    let found = retriever
        .search(
            "acme",
            "stale orders table after the nightly load",
            3,
            Mode::Hybrid,
            &Filters::default(),
        )
        .await
        .unwrap();
    let top = &found.hits[0];
    assert_eq!(top.heading_path, "Freshness runbook > Symptoms");
    assert_eq!(top.rank, 1);
    assert_eq!(top.vector.map(|s| s.rank), Some(1));
    assert_eq!(top.fulltext.map(|s| s.rank), Some(1));
    assert!((top.score - 2.0 / 61.0).abs() < 1e-12, "{}", top.score);

    // Spanish stemming matches "vacías" to "vacía" in the Spanish runbook.
    let spanish = retriever
        .search(
            "acme",
            "columnas vacías",
            3,
            Mode::Bm25,
            &Filters::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        spanish.hits[0].source,
        dir.path()
            .join("nulos.md")
            .canonicalize()
            .unwrap()
            .display()
            .to_string()
    );

    // A tenant this small is scanned exactly; through the HNSW index it ranks the same.
    let mut through_index = retriever.clone();
    through_index.exact_search_max_chunks = 0;
    for r in [&retriever, &through_index] {
        let found = r
            .search(
                "acme",
                "stale orders table",
                3,
                Mode::Vector,
                &Filters::default(),
            )
            .await
            .unwrap();
        let ranked: Vec<(&str, Option<usize>)> = found
            .hits
            .iter()
            .map(|h| (h.heading_path.as_str(), h.vector.map(|s| s.rank)))
            .collect();
        assert_eq!(
            ranked,
            vec![
                ("Freshness runbook > Symptoms", Some(1)),
                ("Freshness runbook > Fix", Some(2)),
                ("Runbook de nulos > Síntomas", Some(3)),
            ]
        );
        assert!(found.hits.windows(2).all(|w| w[0].score > w[1].score));
    }

    let stop_words = retriever
        .search("acme", "the of and", 3, Mode::Bm25, &Filters::default())
        .await
        .unwrap();
    assert_eq!(stop_words.hits, vec![]);
    assert_eq!(
        stop_words.notes,
        vec!["the query has only stop words: full-text search matched nothing".to_string()]
    );
    let filtered = retriever
        .search(
            "acme",
            "stale orders",
            3,
            Mode::Hybrid,
            &Filters {
                kinds: vec!["incident".into()],
                source_prefix: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(filtered.hits, vec![]);
    assert_eq!(
        retriever
            .search("acme", "  ", 3, Mode::Hybrid, &Filters::default())
            .await
            .unwrap_err()
            .to_string(),
        "the query is empty"
    );

    // Vectors stored with another dimension for the same model id cannot be compared.
    sqlx::query("UPDATE steward.rag_state SET active_dim = 512")
        .execute(&db.pool().await)
        .await
        .unwrap();
    let mismatch = retriever
        .search("acme", "stale", 3, Mode::Vector, &Filters::default())
        .await
        .unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        "the index holds 512-dimension vectors of \"all-MiniLM-L6-v2-int8\" but the configured \
         model \"all-MiniLM-L6-v2-int8\" makes 384: run `steward reindex --embeddings` to re-embed"
    );
}

/// An embedder that fails: the document's transaction must roll back.
struct Broken;

#[async_trait]
impl Embedder for Broken {
    fn model_id(&self) -> &str {
        "all-MiniLM-L6-v2-int8"
    }
    fn dimension(&self) -> usize {
        384
    }
    async fn embed(&self, _: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        Err(EmbedError::Runtime {
            action: "run the model".into(),
            reason: "out of memory".into(),
        })
    }
}

#[tokio::test]
async fn bad_files_are_named_and_a_failed_document_keeps_its_previous_version() {
    let db = TestDb::new().await;
    let rag = rag(&db).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "freshness.md", FRESHNESS);
    index(&rag, dir.path(), "acme").await;

    write(
        dir.path(),
        "freshness.md",
        &FRESHNESS.replace("nightly", "hourly"),
    );
    write(dir.path(), "empty.md", "\n");
    std::fs::write(dir.path().join("binary.txt"), b"ab\0cd").unwrap();
    std::fs::write(dir.path().join("latin1.txt"), b"se\xf1al").unwrap();
    write(dir.path(), "slides.pdf", "%PDF-1.4");
    write(dir.path(), "huge.md", &"a".repeat(5000));
    let broken: Arc<dyn Embedder> = Arc::new(Broken);
    let report = index_paths(
        rag.store(),
        Some(broken.as_ref()),
        &rag.counter().await.unwrap(),
        &[dir.path().to_path_buf()],
        &options("acme"),
        &|_, _, _| {},
    )
    .await
    .unwrap();
    let root = dir.path().canonicalize().unwrap().display().to_string();
    let failed: Vec<String> = report
        .failed
        .iter()
        .map(|f| f.replace(&root, "DIR"))
        .collect();
    assert_eq!(
        failed,
        vec![
            "DIR/binary.txt: binary file (NUL bytes); only Markdown, text and HTML are indexed",
            "DIR/empty.md: empty file (nothing to index)",
            "DIR/freshness.md: embedding failed: ONNX Runtime failed to run the model: out of memory",
            "DIR/huge.md: 5000 bytes is over the 4096-byte limit; split the file",
            "DIR/latin1.txt: not valid UTF-8 at byte 2; convert it to UTF-8 first",
            "DIR/slides.pdf: unsupported format \"pdf\"; indexed formats: .md, .markdown, .txt, \
             .html, .htm (PDF is not supported: no well-kept pure-Rust extractor is available here)",
        ]
    );
    // The previous version is still what is served.
    let content: Vec<String> =
        sqlx::query_scalar("SELECT content FROM steward.rag_chunks ORDER BY ordinal")
            .fetch_all(&db.pool().await)
            .await
            .unwrap();
    assert!(content.iter().any(|c| c.contains("nightly")), "{content:?}");
    assert!(!content.iter().any(|c| c.contains("hourly")), "{content:?}");
}

fn steward(db: &TestDb, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(steward_bin())
        .args(args)
        .env_clear()
        .envs(env_with_model(db))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_cites_its_sources_and_eval_prints_the_metrics() {
    let db = TestDb::new().await;
    let runbooks = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo/runbooks");
    let (code, stdout, stderr) = steward(
        &db,
        &["index", runbooks, "--kind", "runbook", "--tenant", "demo"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("tenant demo: 4 file(s): 4 indexed, 0 unchanged, 0 failed"),
        "{stdout}"
    );
    let (code, stdout, stderr) = steward(
        &db,
        &[
            "ask",
            "¿Qué hago si cae el volumen de eventos?",
            "--tenant",
            "demo",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["path"], json!("extractive"));
    assert_eq!(answer["language"], json!("es"));
    assert_eq!(answer["verification"]["valid"], json!(true), "{answer}");
    assert!(
        answer["sources"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("caida-volumen-eventos.md"),
        "{answer}"
    );

    let tiny = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny_beir");
    let (code, stdout, stderr) = steward(
        &db,
        &[
            "eval",
            "retrieval",
            "--beir",
            tiny,
            "--split",
            "test",
            "--mode",
            "bm25",
            "--mode",
            "hybrid",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    for mode in ["bm25", "hybrid"] {
        let keys: Vec<&String> = report[mode].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            vec![
                "mrr@10",
                "ndcg@10",
                "p50_ms",
                "p95_ms",
                "recall@10",
                "recall@100"
            ]
        );
        let ndcg = report[mode]["ndcg@10"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&ndcg), "{report}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_retrieval_prints_every_figure() {
    let db = TestDb::new().await;
    let (code, stdout, stderr) = steward(
        &db,
        &[
            "bench",
            "retrieval",
            "--chunks",
            "300",
            "--queries",
            "5",
            "--index-sample",
            "20",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["chunks"], json!(300));
    assert!(report["indexing_chunks_per_second"].as_f64().unwrap() > 0.0);
    let modes: Vec<&String> = report["modes"].as_object().unwrap().keys().collect();
    assert_eq!(modes, vec!["bm25", "hybrid", "vector"]);
    for mode in modes {
        let m = &report["modes"][mode];
        assert!(
            m["steward"]["p95_ms"].as_f64().unwrap() >= m["steward"]["p50_ms"].as_f64().unwrap()
        );
        assert!(m["overhead"].as_f64().unwrap() > 0.0, "{report}");
    }
    let pool = db.pool().await;
    let chunks: i64 =
        sqlx::query_scalar("SELECT count(*) FROM steward.rag_chunks WHERE tenant = 'bench-300'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(chunks, 300);
}

/// The tiny cross-encoder of tests/fixtures/tiny_cross_encoder with the embedder's tokenizer:
/// its score is the sum of (token id mod 7) over the passage's tokens.
fn tiny_reranker_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tiny_cross_encoder/model.onnx"
        ),
        dir.path().join("model.onnx"),
    )
    .unwrap();
    std::fs::copy(
        std::env::var("STEWARD_EMBED_TOKENIZER").unwrap(),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    dir
}

#[tokio::test]
async fn the_cross_encoder_reorders_hybrid_candidates() {
    let db = TestDb::new().await;
    let reranker = tiny_reranker_dir();
    let mut env = env_with_model(&db);
    env.insert(
        "STEWARD_RAG__RERANKER_DIR".into(),
        reranker.path().display().to_string(),
    );
    let config = Config::load(None, &env).unwrap();
    let rag = Rag::new(config.rag.clone(), db.pool().await);
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "freshness.md", FRESHNESS);
    write(dir.path(), "nulos.md", NULLS_ES);
    write(
        dir.path(),
        "volume.md",
        "# Volume runbook\n## Drop\nEvents dropped by half after the SDK release.\n",
    );
    index(&rag, dir.path(), "acme").await;
    let retriever = rag.retriever().await.unwrap();
    let reranked = retriever
        .search(
            "acme",
            "orders table stale",
            10,
            Mode::HybridRerank,
            &Filters::default(),
        )
        .await
        .unwrap();
    assert_eq!(reranked.mode, Mode::HybridRerank);
    assert!(reranked.hits.len() >= 3, "{reranked:?}");

    // The same score computed here from the tokenizer, pair by pair.
    let mut tokenizer =
        tokenizers::Tokenizer::from_file(std::env::var("STEWARD_EMBED_TOKENIZER").unwrap())
            .unwrap();
    tokenizer.with_padding(None);
    let expected = |passage: &str| -> f64 {
        let encoding = tokenizer
            .encode(("orders table stale", passage), true)
            .unwrap();
        encoding
            .get_ids()
            .iter()
            .zip(encoding.get_type_ids())
            .filter(|(_, t)| **t == 1)
            .map(|(id, _)| f64::from(id % 7))
            .sum()
    };
    let mut previous = f64::INFINITY;
    for (i, hit) in reranked.hits.iter().enumerate() {
        let passage = format!("{}\n{}", hit.heading_path, hit.content);
        assert_eq!(hit.rerank, Some(expected(&passage)), "{hit:?}");
        assert_eq!(hit.score, expected(&passage));
        assert_eq!(hit.rank, i + 1);
        assert!(
            hit.score <= previous,
            "not sorted by the reranker: {reranked:?}"
        );
        previous = hit.score;
        // The fused signals stay visible next to the rerank score.
        assert!(hit.vector.is_some() || hit.fulltext.is_some());
    }

    // Without a configured reranker the mode is refused with what to set.
    let plain = self::rag(&db).await.retriever().await.unwrap();
    assert_eq!(
        plain
            .search("acme", "stale", 3, Mode::HybridRerank, &Filters::default())
            .await
            .unwrap_err()
            .to_string(),
        "no reranker is configured: set [rag] reranker_dir to a cross-encoder's folder \
         (model.onnx + tokenizer.json)"
    );
}

#[tokio::test]
async fn eval_rag_scores_citations_always_and_ragas_with_a_judge() {
    use crate::common::anthropic::{FakeAnthropic, Reply};
    use steward::rag::eval_rag::{EvalRagCommand, run};

    let db = TestDb::new().await;
    let fake = FakeAnthropic::start().await;
    let mut env = env_with_model(&db);
    env.insert("ANTHROPIC_API_KEY".into(), "sk-ant-test".into());
    env.insert("ANTHROPIC_BASE_URL".into(), fake.base_url());
    env.insert("STEWARD_AGENT__RETRY_BACKOFF_MS".into(), "0".into());
    let config = Config::load(None, &env).unwrap();
    let rag = Rag::new(config.rag.clone(), db.pool().await);
    index(
        &rag,
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scripts/demo/runbooks"
        )),
        "demo",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("golden.jsonl");
    let question = "What do I do when payment_method is NULL for many payments?";
    std::fs::write(
        &golden,
        format!("{}\n", json!({"question": question, "tenant": "demo"})),
    )
    .unwrap();
    let command = EvalRagCommand {
        golden: golden.clone(),
        json: true,
    };

    // Without a model: extractive answers, citation metrics only.
    let plain = run(&rag, None, &command).await.unwrap();
    assert_eq!(
        (
            plain.questions,
            plain.citation_validity,
            plain.citation_coverage
        ),
        (1, 1.0, 1.0)
    );
    assert_eq!((plain.faithfulness, plain.context_precision), (None, None));
    assert_eq!(
        plain.note.as_deref(),
        Some("no language model configured: only citation validity and coverage were computed")
    );

    // With Claude: the answer, then the judge's three verdicts, in this order.
    fake.push(Reply::text(
        "Add the new method to the loader's mapping [1]. Reload the day [7].",
    ));
    fake.push(Reply::text(r#"{"claims": [{"claim": "mapping", "supported": true}, {"claim": "reload", "supported": false}]}"#));
    fake.push(Reply::text(
        r#"{"verdicts": [true, false, true, false, false]}"#,
    ));
    fake.push(Reply::text(r#"{"questions": ["How do I fix NULL payment methods?", "What reloads a day of payments?", "Who owns raw.payments?"]}"#));
    let judged = run(&rag, config.agent.client().unwrap(), &command)
        .await
        .unwrap();
    fake.assert_all_valid();
    assert_eq!(fake.requests().len(), 4);
    let score = &judged.per_question[0];
    assert_eq!(score.path, "claude");
    // [7] is not one of the 5 sources; one of two sentences carries a valid citation.
    assert_eq!(
        (score.citations_valid, score.citation_coverage),
        (false, 0.5)
    );
    assert_eq!(judged.faithfulness, Some(0.5));
    assert_eq!(judged.context_precision, Some((1.0 + 2.0 / 3.0) / 2.0));
    // Answer relevancy: mean cosine of the question and the generated ones, with the same model.
    let embedder = rag.embedder().await.unwrap().unwrap();
    let texts: Vec<String> = [
        question,
        "How do I fix NULL payment methods?",
        "What reloads a day of payments?",
        "Who owns raw.payments?",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let v = embedder.embed(&texts).await.unwrap();
    let cos = |a: &[f32], b: &[f32]| -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum::<f64>()
    };
    let expected = (cos(&v[0], &v[1]) + cos(&v[0], &v[2]) + cos(&v[0], &v[3])) / 3.0;
    assert!(
        (judged.answer_relevancy.unwrap() - expected).abs() < 1e-4,
        "{judged:?}"
    );

    std::fs::write(
        &golden,
        "{\"question\": \"ok\"}\n{\"questoin\": \"typo\"}\n",
    )
    .unwrap();
    let bad = run(&rag, None, &command).await.unwrap_err().to_string();
    assert!(
        bad.starts_with(&format!("{}:2: unknown field `questoin`", golden.display())),
        "{bad}"
    );
}
