//! OnnxEmbedder against the real int8 all-MiniLM-L6-v2 and a reference computed independently
//! (Python onnxruntime + tokenizers + numpy, tests/fixtures/gen_minilm_reference.py).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use steward::rag::embed::{
    EmbedError, Embedder, MINILM_MODEL_ID, ORT_DYLIB_ENV, OnnxEmbedder, OnnxOptions,
};

const SETUP: &str = "run `make test`, or `scripts/dev-services start` then \
                     `eval \"$(scripts/dev-services env)\"`";

/// A path from the environment; no silent skip: without the model the suite must fail.
fn env_path(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!("{var} is not set: the embedding tests need the model assets; {SETUP}"),
    }
}

fn model_path() -> PathBuf {
    env_path("STEWARD_EMBED_MODEL")
}

fn tokenizer_path() -> PathBuf {
    env_path("STEWARD_EMBED_TOKENIZER")
}

/// One embedder for the whole binary (ONNX Runtime allows one environment per process anyway).
fn embedder() -> &'static OnnxEmbedder {
    static EMBEDDER: OnceLock<OnnxEmbedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| {
        env_path(ORT_DYLIB_ENV);
        OnnxEmbedder::load(&model_path(), &tokenizer_path())
            .unwrap_or_else(|e| panic!("loading the embedding model failed: {e}"))
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn strings(texts: &[&str]) -> Vec<String> {
    texts.iter().map(|s| (*s).to_owned()).collect()
}

#[derive(Deserialize)]
struct Reference {
    model_id: String,
    model_sha256: String,
    max_tokens: usize,
    sentences: Vec<ReferenceSentence>,
}

#[derive(Deserialize)]
struct ReferenceSentence {
    text: String,
    embedding: Vec<f32>,
    /// The packaged model's embedding, before scripts/embed/minilm_int8_fast.py rebuilt it.
    source_embedding: Vec<f32>,
}

fn reference() -> Reference {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm_reference.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn matches_the_independent_python_reference() {
    let reference = reference();
    // A different model file would fail below with a confusing cosine; say so up front.
    let sha = format!("{:x}", Sha256::digest(std::fs::read(model_path()).unwrap()));
    assert_eq!(
        sha,
        reference.model_sha256,
        "{} is not the model the fixture was made with; regenerate it with \
         tests/fixtures/gen_minilm_reference.py",
        model_path().display()
    );
    assert_eq!(reference.model_id, MINILM_MODEL_ID);
    assert_eq!(reference.max_tokens, OnnxOptions::default().max_tokens);

    let e = embedder();
    assert_eq!(e.model_id(), MINILM_MODEL_ID);
    let texts: Vec<String> = reference.sentences.iter().map(|s| s.text.clone()).collect();
    let got = e.embed(&texts).await.unwrap();
    assert_eq!(got.len(), 3);
    for (sentence, vector) in reference.sentences.iter().zip(&got) {
        assert_eq!(sentence.embedding.len(), 384);
        let cos = cosine(vector, &sentence.embedding);
        assert!(cos > 0.999, "cosine {cos} for {:?}", sentence.text);
        // Integer kernels quantise activations: the rebuilt model stays this close.
        let cos = cosine(vector, &sentence.source_embedding);
        assert!(
            cos > 0.995,
            "cosine {cos} to the source model for {:?}",
            sentence.text
        );
    }
}

#[tokio::test]
async fn vectors_are_384_dimensional_unit_length() {
    let e = embedder();
    assert_eq!(e.dimension(), 384);
    let got = e
        .embed(&strings(&[
            "a",
            "",
            "Airflow DAG orders_daily missed its SLA",
        ]))
        .await
        .unwrap();
    for v in &got {
        assert_eq!(v.len(), 384);
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[tokio::test]
async fn empty_input_gives_empty_output() {
    let e = embedder();
    assert!(e.embed(&[]).await.unwrap().is_empty());
    assert!(e.embed_blocking(&[]).unwrap().is_empty());
}

#[tokio::test]
async fn padding_in_a_batch_does_not_change_a_vector() {
    let e = embedder();
    let short = "Disk usage on the warehouse node is above 90%.";
    let long = "The orders pipeline reads from the Kafka topic, deduplicates events by order id, \
                joins them with the customer dimension, writes hourly partitions to the lake and \
                publishes a freshness metric that the on-call dashboard and the SLA checker read; \
                when the upstream schema changes, the job fails at the join step. "
        .repeat(3);
    let medium = "Row count for fct_orders dropped 40% day over day.";
    let alone: Vec<Vec<f32>> = [short, medium]
        .iter()
        .map(|t| e.embed_blocking(&strings(&[t])).unwrap().remove(0))
        .collect();
    // Input order is kept although the embedder sorts by length internally.
    let batch = e.embed(&strings(&[&long, short, medium])).await.unwrap();
    for (single, batched) in alone.iter().zip(&batch[1..]) {
        let cos = cosine(single, batched);
        assert!(
            cos > 0.9999,
            "cosine {cos} between alone and padded in a batch"
        );
    }
}

#[tokio::test]
async fn inputs_beyond_max_tokens_are_truncated() {
    let e = embedder();
    // 400 words > 256 tokens: the tail past the limit must not change the vector.
    let head = "freshness check failed on table orders ".repeat(80);
    let longer = format!("{head} and then something completely different about cats");
    let got = e.embed(&strings(&[&head, &longer])).await.unwrap();
    assert!(cosine(&got[0], &got[1]) > 0.99999);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_agree() {
    let e = embedder();
    let text = strings(&["Concurrent embedding requests share one session."]);
    let expected = e.embed(&text).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let text = text.clone();
            tokio::spawn(async move { e.embed(&text).await })
        })
        .collect();
    for task in tasks {
        let got = task.await.unwrap().unwrap();
        assert!(cosine(&got[0], &expected[0]) > 0.99999);
    }
}

#[test]
fn missing_model_file_names_the_path_and_the_fix() {
    let missing = Path::new("/nonexistent/steward/model.onnx");
    let err = OnnxEmbedder::load(missing, Path::new("/nonexistent/tokenizer.json")).unwrap_err();
    assert!(matches!(err, EmbedError::ModelMissing { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/steward/model.onnx"), "{msg}");
    assert!(msg.contains("scripts/dev-services start"), "{msg}");
}

#[test]
fn missing_ort_library_names_ort_dylib_path() {
    let options = OnnxOptions {
        ort_dylib: Some(PathBuf::from("/nonexistent/libonnxruntime.so.1")),
        ..OnnxOptions::default()
    };
    let err = OnnxEmbedder::load_with(&model_path(), &tokenizer_path(), options).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("ORT_DYLIB_PATH"), "{msg}");
    assert!(msg.contains("/nonexistent/libonnxruntime.so.1"), "{msg}");
}
