//! `answer`: retrieves sources, asks Claude to answer only from them with a `[N]` citation on
//! every sentence (or say it has no information, in the question's language), then verifies
//! the citations. Without a model it returns the top passages as a clearly marked extractive
//! answer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use steward_tools::tool::{Annotations, CallContext, ToolError, TypedTool};

use super::cite::{NO_INFO_EN, NO_INFO_ES, Verification, verify};
use super::lang::{Lang, detect};
use super::retrieve::{search, tenant_of};
use super::search::{Filters, Hit};
use super::service::Rag;
use crate::agent::claude::{Claude, InputMessage, MessageRequest};

const PROMPT: &str = include_str!("../../prompts/answer_citations.md");
/// Characters of each passage quoted in an extractive answer.
const EXTRACT_CHARS: usize = 400;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The question, in Spanish or English.
    pub question: String,
    /// Whose documents (default: the server's default tenant).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Sources to retrieve (default 5, at most 20).
    #[serde(default)]
    pub k: Option<usize>,
    #[serde(default)]
    pub filters: Filters,
}

/// A source the answer may cite as `[n]`.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct SourceRef {
    pub n: usize,
    pub source: String,
    pub title: String,
    pub heading_path: String,
    pub chunk_id: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Output {
    pub answer: String,
    /// "claude", or "extractive" (no language model: quoted passages).
    pub path: String,
    pub model: Option<String>,
    /// "es" or "en": the question's language.
    pub language: String,
    pub sources: Vec<SourceRef>,
    pub verification: Verification,
    pub notes: Vec<String>,
}

pub struct Answer {
    rag: Rag,
    claude: Option<Claude>,
}

impl Answer {
    pub fn new(rag: Rag, claude: Option<Claude>) -> Self {
        Self { rag, claude }
    }
}

impl TypedTool for Answer {
    type Params = Params;
    type Output = Output;
    const NAME: &'static str = "answer";
    const TITLE: &'static str = "Answer from runbooks and docs, with citations";
    const DESCRIPTION: &'static str = "Answer a question from the team's runbooks and docs only: \
        retrieves sources, answers with a [N] citation on every sentence (or says the sources \
        do not cover it, in the question's language), and verifies that every citation points \
        to a provided source. Without a language model, returns the top passages as an \
        extractive answer.";
    const ANNOTATIONS: Annotations = Annotations {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: true,
    };

    async fn describe(&self, _: &CallContext, params: &Params) -> Result<Value, ToolError> {
        Ok(serde_json::json!({ "tenant": tenant_of(&self.rag, &params.tenant) }))
    }

    async fn run(&self, _: &CallContext, params: Params) -> Result<Output, ToolError> {
        self.answer(params).await.map(|(output, _)| output)
    }
}

impl Answer {
    /// The answer and the hits it was written from (evaluation scores those contexts).
    pub async fn answer(&self, params: Params) -> Result<(Output, Vec<Hit>), ToolError> {
        let k = params.k.unwrap_or(5);
        if !(1..=20).contains(&k) {
            return Err(ToolError::InvalidParams {
                tool: <Self as TypedTool>::NAME,
                message: format!("k must be between 1 and 20, not {k}"),
            });
        }
        let tenant = tenant_of(&self.rag, &params.tenant);
        let mode = self.rag.default_mode().await;
        let found = search(
            &self.rag,
            &tenant,
            &params.question,
            k,
            mode,
            &params.filters,
        )
        .await?;
        let language = if detect(&params.question) == Lang::Es {
            Lang::Es
        } else {
            Lang::En
        };
        let no_info = if language == Lang::Es {
            NO_INFO_ES
        } else {
            NO_INFO_EN
        };
        let sources: Vec<SourceRef> = found
            .hits
            .iter()
            .map(|h| SourceRef {
                n: h.rank,
                source: h.source.clone(),
                title: h.title.clone(),
                heading_path: h.heading_path.clone(),
                chunk_id: h.chunk_id,
            })
            .collect();
        let mut notes = found.notes.clone();
        let (answer, path, model) = match (&self.claude, found.hits.is_empty()) {
            (_, true) => (no_info.to_string(), "extractive", None),
            (Some(claude), false) => {
                match generate(claude, &params.question, language, no_info, &found.hits).await {
                    Ok((text, model)) => (text, "claude", Some(model)),
                    Err(e) => {
                        notes.push(format!("the model did not answer ({e}): extractive answer"));
                        (extractive(&found.hits), "extractive", None)
                    }
                }
            }
            (None, false) => {
                notes.push(
                    "no language model is configured: the answer quotes the top passages".into(),
                );
                (extractive(&found.hits), "extractive", None)
            }
        };
        let verification = verify(&answer, sources.len());
        let output = Output {
            answer,
            path: path.into(),
            model,
            language: language.code().into(),
            sources,
            verification,
            notes,
        };
        Ok((output, found.hits))
    }
}

/// The top passages, quoted and cited.
fn extractive(hits: &[Hit]) -> String {
    hits.iter()
        .take(3)
        .map(|h| {
            let text: String = h.content.chars().take(EXTRACT_CHARS).collect();
            let cut = if h.content.chars().count() > EXTRACT_CHARS {
                "…"
            } else {
                ""
            };
            format!("> {}{cut} [{}]", text.replace('\n', " ").trim(), h.rank)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn generate(
    claude: &Claude,
    question: &str,
    language: Lang,
    no_info: &str,
    hits: &[Hit],
) -> Result<(String, String), String> {
    let sources: Vec<Value> = hits
        .iter()
        .map(|h| {
            serde_json::json!({
                "n": h.rank, "title": h.title, "heading_path": h.heading_path,
                "source": h.source, "content": h.content,
            })
        })
        .collect();
    let prompt = minijinja::Environment::new()
        .render_str(
            PROMPT,
            minijinja::context! {
                question => question,
                language => if language == Lang::Es { "Spanish" } else { "English" },
                no_info => no_info,
                sources => sources,
            },
        )
        .map_err(|e| e.to_string())?;
    let request = MessageRequest::new(1024)
        .system("You answer on-call engineers' questions from their team's documentation, citing every claim.")
        .message(InputMessage::user(prompt));
    let response = claude.send(&request).await.map_err(|e| e.to_string())?;
    Ok((response.message.text().trim().to_string(), response.model))
}
