//! The retrieval service the tools and commands share: the store, the embedder (built on first
//! use, so commands that never search do not load a model) and the chunk sizer that counts
//! tokens with the embedding model's tokenizer.

use std::path::Path;
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::OnceCell;

use super::chunk::TokenCounter;
use super::embed::{Embedder, HttpEmbedder, HttpEmbedderConfig, OnnxEmbedder};
use super::rerank::CrossEncoder;
use super::search::{Mode, Retriever};
use super::settings::{EmbedderSettings, RagSettings};
use super::store::RagStore;

#[derive(Clone)]
pub struct Rag {
    pub settings: RagSettings,
    store: RagStore,
    loaded: Arc<OnceCell<Loaded>>,
    reranker: RerankerCell,
}

#[derive(Clone)]
struct Loaded {
    embedder: Option<Arc<dyn Embedder>>,
    counter: TokenCounter,
}

type RerankerCell = Arc<OnceCell<Option<CrossEncoder>>>;

impl Rag {
    pub fn new(settings: RagSettings, pool: PgPool) -> Self {
        Self {
            settings,
            store: RagStore::new(pool),
            loaded: Arc::default(),
            reranker: Arc::default(),
        }
    }

    pub fn store(&self) -> &RagStore {
        &self.store
    }

    /// The configured embedder (`None` with `embedder = "none"`), loaded once.
    pub async fn embedder(&self) -> Result<Option<Arc<dyn Embedder>>, String> {
        Ok(self.load().await?.embedder)
    }

    /// Hybrid search when an embedder is available, else full text (which needs none).
    pub async fn default_mode(&self) -> Mode {
        match self.embedder().await {
            Ok(Some(_)) => Mode::Hybrid,
            _ => Mode::Bm25,
        }
    }

    /// Counts tokens the way the embedder does (4 characters a token for hosted models).
    pub async fn counter(&self) -> Result<TokenCounter, String> {
        Ok(self.load().await?.counter)
    }

    /// The cross-encoder of `[rag] reranker_dir`, loaded once; `None` when not configured.
    pub async fn reranker(&self) -> Result<Option<CrossEncoder>, String> {
        let Some(dir) = self.settings.reranker_dir.clone() else {
            return Ok(None);
        };
        self.reranker
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || CrossEncoder::load(&dir))
                    .await
                    .map_err(|e| e.to_string())?
                    .map(Some)
                    .map_err(|e| e.to_string())
            })
            .await
            .cloned()
    }

    /// A retriever with the configured fusion, candidate depth and reranker.
    pub async fn retriever(&self) -> Result<Retriever, String> {
        let mut retriever = Retriever::new(self.store.clone(), self.embedder().await?)
            .with_reranker(self.reranker().await?);
        retriever.rrf = self.settings.rrf;
        retriever.candidates = self.settings.candidates;
        retriever.exact_search_max_chunks = self.settings.exact_search_max_chunks;
        Ok(retriever)
    }

    async fn load(&self) -> Result<Loaded, String> {
        self.loaded
            .get_or_try_init(|| async { build(&self.settings.embedder).await })
            .await
            .cloned()
    }
}

async fn build(settings: &EmbedderSettings) -> Result<Loaded, String> {
    match settings {
        EmbedderSettings::None => Ok(Loaded {
            embedder: None,
            counter: TokenCounter::Chars,
        }),
        EmbedderSettings::Http {
            base_url,
            model,
            dimension,
            api_key_env,
        } => {
            let mut config = HttpEmbedderConfig::new(base_url.clone(), model.clone(), *dimension);
            config.api_key_env = api_key_env.clone();
            let embedder = HttpEmbedder::new(config).map_err(|e| e.to_string())?;
            Ok(Loaded {
                embedder: Some(Arc::new(embedder)),
                counter: TokenCounter::Chars,
            })
        }
        EmbedderSettings::Onnx { model, tokenizer } => {
            let (Some(model), Some(tokenizer)) = (model, tokenizer) else {
                return Err(
                    "no embedding model configured: set STEWARD_EMBED_MODEL and \
                     STEWARD_EMBED_TOKENIZER (`eval \"$(scripts/dev-services env)\"` after \
                     `scripts/dev-services start`), or [rag] model_path / tokenizer_path, or \
                     embedder = \"none\" for full-text search only"
                        .to_string(),
                );
            };
            let (model, tokenizer) = (model.clone(), tokenizer.clone());
            tokio::task::spawn_blocking(move || load_onnx(&model, &tokenizer))
                .await
                .map_err(|e| e.to_string())?
        }
    }
}

fn load_onnx(model: &Path, tokenizer: &Path) -> Result<Loaded, String> {
    let embedder = OnnxEmbedder::load(model, tokenizer).map_err(|e| e.to_string())?;
    let mut counting = tokenizers::Tokenizer::from_file(tokenizer)
        .map_err(|e| format!("{}: {e}", tokenizer.display()))?;
    // The shipped tokenizer pads and truncates to 128; counting needs the raw length.
    counting.with_padding(None);
    counting
        .with_truncation(None)
        .map_err(|e| format!("{}: {e}", tokenizer.display()))?;
    Ok(Loaded {
        embedder: Some(Arc::new(embedder)),
        counter: TokenCounter::Tokenizer(Arc::new(counting)),
    })
}
