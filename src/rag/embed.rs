//! Sentence embeddings for hybrid retrieval: [`OnnxEmbedder`] runs all-MiniLM-L6-v2 (int8 ONNX)
//! in-process through a dynamically loaded ONNX Runtime, [`HttpEmbedder`] calls an
//! OpenAI-compatible `/embeddings` endpoint. Both return L2-normalised vectors (cosine = dot).

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ort::environment::Environment;
use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use serde::{Deserialize, Serialize};
use tokenizers::{Encoding, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Environment variable naming the ONNX Runtime shared library (`libonnxruntime.so.*`).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";
/// Model id of the bundled all-MiniLM-L6-v2 int8 export; stored next to every vector.
pub const MINILM_MODEL_ID: &str = "all-MiniLM-L6-v2-int8";
/// all-MiniLM-L6-v2's `max_seq_length` (sentence-transformers config). The model has 512
/// position embeddings but was fine-tuned on 128-token pairs; sentence-transformers truncates
/// at 256 and so do we, so our vectors match the reference and attention cost stays bounded.
/// Chunks should stay under it (~180 English words).
pub const MINILM_MAX_TOKENS: usize = 256;

/// What to run when a model file or the ONNX Runtime library is missing.
const SETUP_HINT: &str =
    "run `scripts/dev-services start`, then `eval \"$(scripts/dev-services env)\"`";

/// Turns text into fixed-size vectors. Async because the local model is CPU-bound (it runs on
/// the blocking pool, never on a runtime worker) and the remote one is I/O.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Identifies the model (and quantisation) the vectors come from; vectors from different
    /// ids must never be compared.
    fn model_id(&self) -> &str;
    /// Length of every returned vector.
    fn dimension(&self) -> usize;
    /// One unit-length vector per input text, in input order. An empty slice gives an empty
    /// result without touching the model.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
}

/// Why embedding failed, phrased so the operator knows what to do next.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The ONNX model file does not exist.
    #[error("embedding model file {} not found (STEWARD_EMBED_MODEL): {SETUP_HINT}", path.display())]
    ModelMissing { path: PathBuf },
    /// The tokenizer.json file does not exist.
    #[error("tokenizer file {} not found (STEWARD_EMBED_TOKENIZER): {SETUP_HINT}", path.display())]
    TokenizerMissing { path: PathBuf },
    /// The tokenizer file exists but cannot be used.
    #[error("cannot load tokenizer {}: {reason}", path.display())]
    Tokenizer { path: PathBuf, reason: String },
    /// `ORT_DYLIB_PATH` is unset and no library path was configured.
    #[error("{ORT_DYLIB_ENV} is not set: point it at libonnxruntime.so ({SETUP_HINT})")]
    OrtDylibUnset,
    /// The ONNX Runtime library is missing or does not load.
    #[error("cannot load ONNX Runtime from {} ({ORT_DYLIB_ENV}): {reason}; {SETUP_HINT}", path.display())]
    OrtDylib { path: PathBuf, reason: String },
    /// ONNX Runtime failed while creating the session or running the model.
    #[error("ONNX Runtime failed to {action}: {reason}")]
    Runtime { action: String, reason: String },
    /// Vectors do not have the configured length.
    #[error(
        "embedding model {model} returned {actual}-dimensional vectors but {expected} are configured; \
         set the dimension to the model's (and re-index), or use a model that returns {expected}"
    )]
    DimensionMismatch {
        model: String,
        expected: usize,
        actual: usize,
    },
    /// The API key environment variable is unset or empty.
    #[error("environment variable {var} (the API key for {url}) is not set")]
    ApiKeyMissing { var: String, url: String },
    /// The endpoint could not be reached or the request timed out.
    #[error("embedding request to {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The endpoint answered with a non-success status.
    #[error("embedding endpoint {url} answered HTTP {status}: {body}{hint}")]
    HttpStatus {
        url: String,
        status: u16,
        /// Response body, truncated and with the API key redacted.
        body: String,
        hint: String,
    },
    /// The endpoint answered 2xx with something that is not a usable embeddings response.
    #[error("embedding endpoint {url} sent an invalid response: {reason}")]
    BadResponse { url: String, reason: String },
}

pub(crate) fn runtime(action: &str, reason: impl fmt::Display) -> EmbedError {
    EmbedError::Runtime {
        action: action.to_owned(),
        reason: reason.to_string(),
    }
}

/// Scales `v` to unit length in place (a zero vector stays zero).
fn l2_normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

// ---------------------------------------------------------------------------------------------
// Local ONNX model.

/// Tuning for [`OnnxEmbedder::load_with`]; `Default` suits all-MiniLM-L6-v2 on a small box.
#[derive(Debug, Clone)]
pub struct OnnxOptions {
    /// ONNX Runtime library; `None` reads `ORT_DYLIB_PATH`.
    pub ort_dylib: Option<PathBuf>,
    /// Threads one inference uses (ONNX Runtime intra-op pool). Default 2.
    pub intra_threads: usize,
    /// Texts per model call. Default 32: larger batches gain little on CPU and pad more.
    pub batch_size: usize,
    /// Longer inputs are truncated to this many tokens, [CLS] and [SEP] included. BERT models
    /// accept at most 512 (their position embeddings); default [`MINILM_MAX_TOKENS`].
    pub max_tokens: usize,
    /// Reported by [`Embedder::model_id`].
    pub model_id: String,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        Self {
            ort_dylib: None,
            intra_threads: 2,
            batch_size: 32,
            max_tokens: MINILM_MAX_TOKENS,
            model_id: MINILM_MODEL_ID.to_owned(),
        }
    }
}

/// A BERT-style sentence encoder (all-MiniLM-L6-v2) run by ONNX Runtime: WordPiece tokens in,
/// attention-masked mean of `last_hidden_state` out, L2-normalised.
pub struct OnnxEmbedder {
    inner: Arc<OnnxInner>,
    model_id: String,
    dimension: usize,
}

struct OnnxInner {
    // `Session::run` takes `&mut self`; calls are serialised, each using `intra_threads`.
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    // Some exports drop `token_type_ids` (always 0 for single sentences); feed only what the
    // graph declares.
    wants_token_type_ids: bool,
    batch_size: usize,
}

impl fmt::Debug for OnnxEmbedder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnnxEmbedder")
            .field("model_id", &self.model_id)
            .field("dimension", &self.dimension)
            .field("batch_size", &self.inner.batch_size)
            .finish_non_exhaustive()
    }
}

/// ONNX Runtime allows one environment per process, and `ort` refuses a second `build()` even
/// after the first is dropped, so every embedder shares this one (with the dylib it came from).
static ORT_ENV: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

pub(crate) fn ort_environment(dylib: &Path) -> Result<Environment, EmbedError> {
    let mut slot = ORT_ENV
        .lock()
        .map_err(|_| runtime("initialise", "a thread panicked while loading ONNX Runtime"))?;
    if let Some((loaded, env)) = slot.as_ref() {
        if loaded != dylib {
            return Err(EmbedError::OrtDylib {
                path: dylib.to_owned(),
                reason: format!(
                    "this process already loaded ONNX Runtime from {}; use the same library",
                    loaded.display()
                ),
            });
        }
        return Ok(env.clone());
    }
    // Load explicitly: left to itself, `ort` loads the library on first use and panics if
    // that fails.
    let env = ort::init_from(dylib)
        .map_err(|e| EmbedError::OrtDylib {
            path: dylib.to_owned(),
            reason: e.to_string(),
        })?
        .with_name("steward")
        .build()
        .map_err(|e| runtime("create its environment", e))?;
    *slot = Some((dylib.to_owned(), env.clone()));
    Ok(env)
}

pub(crate) fn ort_dylib_path(configured: Option<&Path>) -> Result<PathBuf, EmbedError> {
    let path = match configured {
        Some(p) => p.to_owned(),
        None => match std::env::var_os(ORT_DYLIB_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => return Err(EmbedError::OrtDylibUnset),
        },
    };
    // dlopen of a relative name would search the system paths; we want the library we pinned.
    if !path.is_file() {
        return Err(EmbedError::OrtDylib {
            path,
            reason: "no such file".to_owned(),
        });
    }
    Ok(path)
}

impl OnnxEmbedder {
    /// Loads the model and tokenizer with [`OnnxOptions::default`] (ONNX Runtime from
    /// `ORT_DYLIB_PATH`, 2 threads, batches of 32, 256 tokens).
    pub fn load(model_path: &Path, tokenizer_path: &Path) -> Result<Self, EmbedError> {
        Self::load_with(model_path, tokenizer_path, OnnxOptions::default())
    }

    /// Loads the model and tokenizer, then embeds one probe text to learn the dimension and
    /// to fail here rather than on the first request. Blocking (tens of milliseconds).
    pub fn load_with(
        model_path: &Path,
        tokenizer_path: &Path,
        options: OnnxOptions,
    ) -> Result<Self, EmbedError> {
        if !model_path.is_file() {
            return Err(EmbedError::ModelMissing {
                path: model_path.to_owned(),
            });
        }
        if !tokenizer_path.is_file() {
            return Err(EmbedError::TokenizerMissing {
                path: tokenizer_path.to_owned(),
            });
        }
        let tokenizer = load_tokenizer(tokenizer_path, options.max_tokens)?;
        let dylib = ort_dylib_path(options.ort_dylib.as_deref())?;
        let env = ort_environment(&dylib)?;

        let session = Session::builder(&env)
            .map_err(|e| runtime("create a session builder", e))?
            .with_intra_threads(options.intra_threads.max(1))
            .map_err(|e| runtime("set the intra-op thread count", e))?
            .with_inter_threads(1)
            .map_err(|e| runtime("set the inter-op thread count", e))?
            .commit_from_file(model_path)
            .map_err(|e| runtime(&format!("load model {}", model_path.display()), e))?;
        let wants_token_type_ids = session
            .inputs()
            .iter()
            .any(|i| i.name() == "token_type_ids");

        let inner = Arc::new(OnnxInner {
            session: Mutex::new(session),
            tokenizer,
            wants_token_type_ids,
            batch_size: options.batch_size.max(1),
        });
        let probe = inner.embed_batch(&["dimension probe"])?;
        let dimension = probe.first().map_or(0, Vec::len);
        if dimension == 0 {
            return Err(runtime(
                "embed a probe text",
                "the model returned an empty vector",
            ));
        }
        Ok(Self {
            inner,
            model_id: options.model_id,
            dimension,
        })
    }

    /// [`Embedder::embed`] on the calling thread, for callers outside an async runtime (CLI
    /// indexing, benchmarks).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.inner.embed_all(texts)
    }
}

#[async_trait]
impl Embedder for OnnxEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let inner = Arc::clone(&self.inner);
        let texts = texts.to_vec();
        tokio::task::spawn_blocking(move || inner.embed_all(&texts))
            .await
            .map_err(|e| runtime("finish an embedding task", e))?
    }
}

/// Loads tokenizer.json and replaces its padding and truncation. The shipped file pads every
/// input to a fixed 128 and truncates at 128: we pad each batch only to its longest member
/// (the padding is masked out of the pooling) and truncate at `max_tokens`.
pub(crate) fn load_tokenizer(path: &Path, max_tokens: usize) -> Result<Tokenizer, EmbedError> {
    let err = |reason: String| EmbedError::Tokenizer {
        path: path.to_owned(),
        reason,
    };
    let mut tokenizer = Tokenizer::from_file(path).map_err(|e| err(e.to_string()))?;
    // Keep the file's pad token and id ([PAD] = 0 for BERT); only the strategy changes.
    let padding = PaddingParams {
        strategy: PaddingStrategy::BatchLongest,
        ..tokenizer.get_padding().cloned().unwrap_or_default()
    };
    tokenizer.with_padding(Some(padding));
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: max_tokens,
            ..TruncationParams::default()
        }))
        .map_err(|e| err(e.to_string()))?;
    Ok(tokenizer)
}

impl OnnxInner {
    fn embed_all(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Batch texts of similar length together so little compute goes into padding; byte
        // length is a good enough proxy for token count.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(self.batch_size) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i].as_str()).collect();
            for (&i, vector) in batch.iter().zip(self.embed_batch(&inputs)?) {
                out[i] = vector;
            }
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| runtime("tokenize", e))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, Encoding::len);
        if rows == 0 || cols == 0 {
            return Err(runtime("tokenize", "the tokenizer produced no tokens"));
        }
        let flat = |field: fn(&Encoding) -> &[u32]| -> Result<Vec<i64>, EmbedError> {
            let mut v = Vec::with_capacity(rows * cols);
            for e in &encodings {
                let values = field(e);
                if values.len() != cols {
                    return Err(runtime(
                        "tokenize",
                        "batch padding left rows of unequal length",
                    ));
                }
                v.extend(values.iter().map(|&x| i64::from(x)));
            }
            Ok(v)
        };
        let mask = flat(Encoding::get_attention_mask)?;
        let shape = [rows, cols];
        let tensor = |data: Vec<i64>| {
            Tensor::from_array((shape, data)).map_err(|e| runtime("build an input tensor", e))
        };
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), tensor(flat(Encoding::get_ids)?)?.into()),
            ("attention_mask".into(), tensor(mask.clone())?.into()),
        ];
        if self.wants_token_type_ids {
            inputs.push((
                "token_type_ids".into(),
                tensor(flat(Encoding::get_type_ids)?)?.into(),
            ));
        }

        let mut session = self
            .session
            .lock()
            .map_err(|_| runtime("run", "a previous inference panicked"))?;
        let outputs = session
            .run(inputs)
            .map_err(|e| runtime("run the model", e))?;
        let hidden = outputs.get("last_hidden_state").ok_or_else(|| {
            runtime(
                "run the model",
                "the model has no `last_hidden_state` output",
            )
        })?;
        let (out_shape, data) = hidden
            .try_extract_tensor::<f32>()
            .map_err(|e| runtime("read `last_hidden_state`", e))?;
        let width = match **out_shape {
            [r, c, w] if r as usize == rows && c as usize == cols && w > 0 => w as usize,
            _ => {
                return Err(runtime(
                    "read `last_hidden_state`",
                    format!("expected shape [{rows}, {cols}, hidden], got {out_shape:?}"),
                ));
            }
        };
        Ok(mean_pool(data, &mask, rows, cols, width))
    }
}

/// Averages each row's token vectors where the attention mask is 1 (padding excluded), then
/// L2-normalises: sentence-transformers' `Pooling(mean)` + `Normalize`.
fn mean_pool(
    hidden: &[f32],
    mask: &[i64],
    rows: usize,
    cols: usize,
    width: usize,
) -> Vec<Vec<f32>> {
    (0..rows)
        .map(|r| {
            let mut sum = vec![0f32; width];
            let mut count = 0f32;
            for c in 0..cols {
                if mask[r * cols + c] == 0 {
                    continue;
                }
                let start = (r * cols + c) * width;
                sum.iter_mut()
                    .zip(&hidden[start..start + width])
                    .for_each(|(s, h)| *s += h);
                count += 1.0;
            }
            sum.iter_mut().for_each(|s| *s /= count.max(1.0));
            l2_normalise(&mut sum);
            sum
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Remote, OpenAI-compatible endpoint.

/// Settings for [`HttpEmbedder`].
#[derive(Debug, Clone)]
pub struct HttpEmbedderConfig {
    /// API root including the version, as in the OpenAI SDKs: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1`. `/embeddings` is appended.
    pub base_url: String,
    /// Model name sent in each request, also the [`Embedder::model_id`].
    pub model: String,
    /// Expected vector length; a response of any other length is an error.
    pub dimension: usize,
    /// Name of the environment variable holding the bearer token; `None` sends no
    /// `Authorization` header (local servers). The value is never logged or put in errors.
    pub api_key_env: Option<String>,
    /// Texts per request. Default 64.
    pub batch_size: usize,
    /// Per-request timeout. Default 60 s.
    pub timeout: Duration,
}

impl HttpEmbedderConfig {
    /// A config with no API key, batches of 64 and a 60 s timeout.
    pub fn new(base_url: impl Into<String>, model: impl Into<String>, dimension: usize) -> Self {
        Self {
            base_url: base_url.into(),
            model: model.into(),
            dimension,
            api_key_env: None,
            batch_size: 64,
            timeout: Duration::from_secs(60),
        }
    }
}

/// Embeddings from an OpenAI-compatible `POST {base_url}/embeddings`, batched, with the
/// dimension checked on every vector. Vectors are L2-normalised like the local model's.
pub struct HttpEmbedder {
    client: reqwest::Client,
    url: String,
    config: HttpEmbedderConfig,
    api_key: Option<String>,
}

impl fmt::Debug for HttpEmbedder {
    // Hand-written so the API key can never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpEmbedder")
            .field("url", &self.url)
            .field("model", &self.config.model)
            .field("dimension", &self.config.dimension)
            .field("api_key_env", &self.config.api_key_env)
            .finish_non_exhaustive()
    }
}

// `encoding_format` is left out: OpenAI defaults to float, and some compatible servers
// reject fields they do not know.
#[derive(Serialize)]
struct EmbeddingsRequest<'a> {
    model: &'a str,
    input: &'a [String],
}

#[derive(Deserialize)]
struct EmbeddingsResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    // OpenAI always sends it; some compatible servers omit it and keep input order.
    index: Option<usize>,
    embedding: Vec<f32>,
}

/// Longest slice of an error body we quote.
const MAX_ERROR_BODY: usize = 500;

impl HttpEmbedder {
    /// Builds the client, reading the API key from `config.api_key_env` if one is named.
    pub fn new(config: HttpEmbedderConfig) -> Result<Self, EmbedError> {
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.is_empty() => Some(key),
                _ => {
                    return Err(EmbedError::ApiKeyMissing {
                        var: var.clone(),
                        url: embeddings_url(&config.base_url),
                    });
                }
            },
        };
        Self::with_api_key(config, api_key)
    }

    /// Builds the client with a key obtained elsewhere (a secret store, a test); the key is
    /// sent as `Authorization: Bearer` and otherwise treated like one read by [`Self::new`].
    pub fn with_api_key(
        config: HttpEmbedderConfig,
        api_key: Option<String>,
    ) -> Result<Self, EmbedError> {
        let url = embeddings_url(&config.base_url);
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| EmbedError::Http {
                url: url.clone(),
                reason: error_chain(&e),
            })?;
        Ok(Self {
            client,
            url,
            config,
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut request = self.client.post(&self.url).json(&EmbeddingsRequest {
            model: &self.config.model,
            input: texts,
        });
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let http_err = |e: reqwest::Error| EmbedError::Http {
            url: self.url.clone(),
            reason: self.redact(&error_chain(&e)),
        };
        let response = request.send().await.map_err(http_err)?;
        let status = response.status();
        let body = response.bytes().await.map_err(http_err)?;
        if !status.is_success() {
            return Err(self.status_error(status, &body));
        }
        let bad = |reason: String| EmbedError::BadResponse {
            url: self.url.clone(),
            reason,
        };
        let parsed: EmbeddingsResponse = serde_json::from_slice(&body)
            .map_err(|e| bad(format!("not an embeddings list: {e}")))?;
        if parsed.data.len() != texts.len() {
            return Err(bad(format!(
                "{} embeddings for {} inputs",
                parsed.data.len(),
                texts.len()
            )));
        }
        let mut out: Vec<Option<Vec<f32>>> = vec![None; texts.len()];
        for (position, item) in parsed.data.into_iter().enumerate() {
            let index = item.index.unwrap_or(position);
            if item.embedding.len() != self.config.dimension {
                return Err(EmbedError::DimensionMismatch {
                    model: self.config.model.clone(),
                    expected: self.config.dimension,
                    actual: item.embedding.len(),
                });
            }
            match out.get_mut(index) {
                Some(slot @ None) => *slot = Some(item.embedding),
                _ => return Err(bad(format!("index {index} is out of range or repeated"))),
            }
        }
        Ok(out
            .into_iter()
            .flatten()
            .map(|mut v| {
                l2_normalise(&mut v);
                v
            })
            .collect())
    }

    fn status_error(&self, status: reqwest::StatusCode, body: &[u8]) -> EmbedError {
        let text = String::from_utf8_lossy(body);
        let mut body: String = text.chars().take(MAX_ERROR_BODY).collect();
        if text.chars().count() > MAX_ERROR_BODY {
            body.push('…');
        }
        let hint = match status.as_u16() {
            401 | 403 => match &self.config.api_key_env {
                Some(var) => format!(" (check the API key in ${var})"),
                None => " (the endpoint wants an API key: set api_key_env)".to_owned(),
            },
            404 => " (base_url should be the API root ending in /v1, e.g. http://host:port/v1)"
                .to_owned(),
            _ => String::new(),
        };
        EmbedError::HttpStatus {
            url: self.url.clone(),
            status: status.as_u16(),
            body: self.redact(&body),
            hint,
        }
    }

    /// Servers may echo the bad key back; never pass it on.
    fn redact(&self, text: &str) -> String {
        match &self.api_key {
            Some(key) => text.replace(key.as_str(), "[redacted]"),
            None => text.to_owned(),
        }
    }
}

#[async_trait]
impl Embedder for HttpEmbedder {
    fn model_id(&self) -> &str {
        &self.config.model
    }

    fn dimension(&self) -> usize {
        self.config.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(self.config.batch_size.max(1)) {
            out.extend(self.embed_batch(batch).await?);
        }
        Ok(out)
    }
}

fn embeddings_url(base_url: &str) -> String {
    format!("{}/embeddings", base_url.trim_end_matches('/'))
}

/// reqwest's top-level message ("error sending request") hides the cause; show the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
