//! Cross-encoder reranking: an ONNX model from a directory (`model.onnx` + `tokenizer.json`)
//! scores each (query, passage) pair jointly; the hybrid candidates are reordered by that score.
//! Runs on ONNX Runtime like the embedder, off the async threads.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ort::session::{Session, SessionInputValue};
use ort::value::Tensor;
use tokenizers::{EncodeInput, Encoding, Tokenizer};

use super::embed::{EmbedError, load_tokenizer, ort_dylib_path, ort_environment, runtime};

/// Tokens per (query, passage) pair.
const MAX_PAIR_TOKENS: usize = 512;

/// A loaded cross-encoder.
#[derive(Clone)]
pub struct CrossEncoder {
    inner: Arc<Inner>,
    /// The directory it was loaded from, as its id in results.
    pub model_id: String,
}

struct Inner {
    session: Mutex<Session>,
    tokenizer: Tokenizer,
    wants_token_type_ids: bool,
}

impl CrossEncoder {
    /// Loads `dir/model.onnx` and `dir/tokenizer.json` (ONNX Runtime from `ORT_DYLIB_PATH`).
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let model = dir.join("model.onnx");
        let tokenizer = dir.join("tokenizer.json");
        if !model.is_file() {
            return Err(EmbedError::ModelMissing { path: model });
        }
        if !tokenizer.is_file() {
            return Err(EmbedError::TokenizerMissing { path: tokenizer });
        }
        let tokenizer = load_tokenizer(&tokenizer, MAX_PAIR_TOKENS)?;
        let env = ort_environment(&ort_dylib_path(None)?)?;
        let session = Session::builder(&env)
            .map_err(|e| runtime("create a session builder", e))?
            .with_intra_threads(2)
            .map_err(|e| runtime("set the intra-op thread count", e))?
            .commit_from_file(&model)
            .map_err(|e| runtime(&format!("load model {}", model.display()), e))?;
        let wants_token_type_ids = session
            .inputs()
            .iter()
            .any(|i| i.name() == "token_type_ids");
        Ok(Self {
            inner: Arc::new(Inner {
                session: Mutex::new(session),
                tokenizer,
                wants_token_type_ids,
            }),
            model_id: dir.display().to_string(),
        })
    }

    /// One relevance score per passage (higher is more relevant), off the async threads.
    pub async fn score(&self, query: &str, passages: Vec<String>) -> Result<Vec<f32>, EmbedError> {
        if passages.is_empty() {
            return Ok(Vec::new());
        }
        let inner = self.inner.clone();
        let query = query.to_string();
        tokio::task::spawn_blocking(move || inner.score(&query, &passages))
            .await
            .map_err(|e| runtime("rerank", e))?
    }
}

impl Inner {
    fn score(&self, query: &str, passages: &[String]) -> Result<Vec<f32>, EmbedError> {
        let pairs: Vec<EncodeInput> = passages
            .iter()
            .map(|p| (query.to_string(), p.clone()).into())
            .collect();
        let encodings = self
            .tokenizer
            .encode_batch(pairs, true)
            .map_err(|e| runtime("tokenize", e))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, Encoding::len);
        let flat = |field: fn(&Encoding) -> &[u32]| -> Vec<i64> {
            encodings
                .iter()
                .flat_map(|e| field(e).iter().map(|&x| i64::from(x)))
                .collect()
        };
        let tensor = |data: Vec<i64>| {
            Tensor::from_array(([rows, cols], data))
                .map_err(|e| runtime("build an input tensor", e))
        };
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
            ("input_ids".into(), tensor(flat(Encoding::get_ids))?.into()),
            (
                "attention_mask".into(),
                tensor(flat(Encoding::get_attention_mask))?.into(),
            ),
        ];
        if self.wants_token_type_ids {
            inputs.push((
                "token_type_ids".into(),
                tensor(flat(Encoding::get_type_ids))?.into(),
            ));
        }
        let mut session = self
            .session
            .lock()
            .map_err(|_| runtime("rerank", "a previous inference panicked"))?;
        let outputs = session
            .run(inputs)
            .map_err(|e| runtime("run the reranker", e))?;
        let logits = outputs
            .get("logits")
            .ok_or_else(|| runtime("run the reranker", "the model has no `logits` output"))?;
        let (shape, data) = logits
            .try_extract_tensor::<f32>()
            .map_err(|e| runtime("read `logits`", e))?;
        // [batch, 1] (one relevance logit) or [batch]; take the first value of each row.
        let width = match **shape {
            [r] if r as usize == rows => 1,
            [r, w] if r as usize == rows && w > 0 => w as usize,
            _ => {
                return Err(runtime(
                    "read `logits`",
                    format!("expected shape [{rows}, 1], got {shape:?}"),
                ));
            }
        };
        Ok((0..rows).map(|r| data[r * width]).collect())
    }
}
