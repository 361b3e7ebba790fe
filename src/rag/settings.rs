//! `[rag]` settings: the embedder (local ONNX model found through the environment that
//! `scripts/dev-services env` prints, or an OpenAI-compatible HTTP endpoint), the default
//! tenant, chunk sizes, fusion and the file size cap.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::chunk::ChunkSettings;
use super::documents::DEFAULT_MAX_BYTES;
use super::fusion::RrfConfig;

/// `[rag]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRag {
    /// "onnx" (default), "http" or "none".
    pub embedder: Option<String>,
    pub model_path: Option<PathBuf>,
    pub tokenizer_path: Option<PathBuf>,
    pub http_base_url: Option<String>,
    pub http_model: Option<String>,
    pub http_dimension: Option<usize>,
    pub http_api_key_env: Option<String>,
    pub default_tenant: Option<String>,
    pub chunk_tokens: Option<usize>,
    pub chunk_overlap: Option<usize>,
    pub rrf_k: Option<f64>,
    pub vector_weight: Option<f64>,
    pub fulltext_weight: Option<f64>,
    pub candidates: Option<usize>,
    /// Tenants with at most this many chunks get an exact vector scan instead of the HNSW
    /// index (default 10,000).
    pub exact_search_max_chunks: Option<u64>,
    pub max_file_bytes: Option<u64>,
    /// A cross-encoder's folder (model.onnx + tokenizer.json) for `hybrid+rerank`.
    pub reranker_dir: Option<PathBuf>,
}

/// Which embedder to build.
#[derive(Debug, Clone, PartialEq)]
pub enum EmbedderSettings {
    /// Local ONNX model; paths from `[rag]` or `STEWARD_EMBED_MODEL` / `STEWARD_EMBED_TOKENIZER`
    /// (the ONNX Runtime library from `ORT_DYLIB_PATH`).
    Onnx {
        model: Option<PathBuf>,
        tokenizer: Option<PathBuf>,
    },
    Http {
        base_url: String,
        model: String,
        dimension: usize,
        api_key_env: Option<String>,
    },
    /// Full-text search only.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RagSettings {
    pub embedder: EmbedderSettings,
    pub default_tenant: String,
    pub chunks: ChunkSettings,
    pub rrf: RrfConfig,
    pub candidates: usize,
    pub exact_search_max_chunks: u64,
    pub max_file_bytes: u64,
    pub reranker_dir: Option<PathBuf>,
}

pub fn resolve(
    raw: RawRag,
    env: &BTreeMap<String, String>,
) -> Result<RagSettings, (String, String)> {
    let path_env = |name: &str| env.get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let embedder = match raw.embedder.as_deref().unwrap_or("onnx") {
        "onnx" => EmbedderSettings::Onnx {
            model: raw.model_path.or_else(|| path_env("STEWARD_EMBED_MODEL")),
            tokenizer: raw
                .tokenizer_path
                .or_else(|| path_env("STEWARD_EMBED_TOKENIZER")),
        },
        "http" => {
            let need = |v: Option<String>, key: &str| {
                v.ok_or_else(|| {
                    (
                        format!("rag.{key}"),
                        "is required with embedder = \"http\"".into(),
                    )
                })
            };
            EmbedderSettings::Http {
                base_url: need(raw.http_base_url, "http_base_url")?,
                model: need(raw.http_model, "http_model")?,
                dimension: raw.http_dimension.ok_or_else(|| {
                    (
                        "rag.http_dimension".to_string(),
                        "is required with embedder = \"http\"".to_string(),
                    )
                })?,
                api_key_env: raw.http_api_key_env,
            }
        }
        "none" => EmbedderSettings::None,
        other => {
            return Err((
                "rag.embedder".into(),
                format!("{other:?} is not an embedder: use onnx, http or none"),
            ));
        }
    };
    let defaults = ChunkSettings::default();
    let chunks = ChunkSettings {
        max_tokens: raw.chunk_tokens.unwrap_or(defaults.max_tokens),
        overlap_tokens: raw.chunk_overlap.unwrap_or(defaults.overlap_tokens),
    };
    if !(16..=2048).contains(&chunks.max_tokens) || chunks.overlap_tokens * 2 > chunks.max_tokens {
        return Err((
            "rag.chunk_tokens".into(),
            "must be 16-2048 with chunk_overlap at most half of it".into(),
        ));
    }
    let rrf_defaults = RrfConfig::default();
    Ok(RagSettings {
        embedder,
        default_tenant: raw.default_tenant.unwrap_or_else(|| "default".into()),
        chunks,
        rrf: RrfConfig {
            k: raw.rrf_k.unwrap_or(rrf_defaults.k),
            vector_weight: raw.vector_weight.unwrap_or(rrf_defaults.vector_weight),
            fulltext_weight: raw.fulltext_weight.unwrap_or(rrf_defaults.fulltext_weight),
        },
        candidates: raw.candidates.unwrap_or(50).clamp(1, 1000),
        exact_search_max_chunks: raw.exact_search_max_chunks.unwrap_or(10_000),
        max_file_bytes: raw.max_file_bytes.unwrap_or(DEFAULT_MAX_BYTES),
        reranker_dir: raw.reranker_dir,
    })
}
