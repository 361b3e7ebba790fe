//! `steward eval rag --golden FILE`: answers each golden question with the `answer` tool and
//! scores it. Always: citation validity (no citation outside the sources) and coverage (share
//! of cited sentences). With a language model, RAGAS's definitions with Claude as the judge:
//! faithfulness (supported claims / claims), answer relevancy (mean cosine between the question
//! and questions generated back from the answer) and context precision (rank-weighted precision
//! of the retrieved contexts judged relevant).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answer::{self, Answer};
use super::service::Rag;
use crate::agent::claude::{Claude, InputMessage, MessageRequest};

/// `steward eval rag`
#[derive(Debug, Clone, clap::Args)]
pub struct EvalRagCommand {
    /// JSONL: one `{"question": "...", "tenant": "..."}` per line (tenant optional).
    #[arg(long, value_name = "FILE")]
    pub golden: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Golden {
    question: String,
    #[serde(default)]
    tenant: Option<String>,
}

/// One question's scores.
#[derive(Debug, Clone, Serialize)]
pub struct QuestionScore {
    pub question: String,
    pub path: String,
    pub citations_valid: bool,
    pub citation_coverage: f64,
    pub faithfulness: Option<f64>,
    pub answer_relevancy: Option<f64>,
    pub context_precision: Option<f64>,
}

/// Means over the golden set (`None` when no model judged).
#[derive(Debug, Clone, Serialize)]
pub struct RagReport {
    pub questions: usize,
    pub citation_validity: f64,
    pub citation_coverage: f64,
    pub faithfulness: Option<f64>,
    pub answer_relevancy: Option<f64>,
    pub context_precision: Option<f64>,
    /// Set when there was no model: only the citation metrics could be computed.
    pub note: Option<String>,
    pub per_question: Vec<QuestionScore>,
}

pub async fn run(
    rag: &Rag,
    claude: Option<Claude>,
    command: &EvalRagCommand,
) -> anyhow::Result<RagReport> {
    let text = std::fs::read_to_string(&command.golden)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", command.golden.display()))?;
    let mut golden = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item: Golden = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("{}:{}: {e}", command.golden.display(), i + 1))?;
        golden.push(item);
    }
    if golden.is_empty() {
        anyhow::bail!("{} has no questions", command.golden.display());
    }
    let tool = Answer::new(rag.clone(), claude.clone());
    let embedder = rag.embedder().await.ok().flatten();
    let mut scores = Vec::with_capacity(golden.len());
    for item in golden {
        let params: answer::Params = serde_json::from_value(serde_json::json!({
            "question": item.question, "tenant": item.tenant, "k": 5,
        }))?;
        let (out, hits) = tool
            .answer(params)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", item.question))?;
        // The contexts the answer was written from, in rank order.
        let contexts: Vec<String> = hits.into_iter().map(|h| h.content).collect();
        let mut score = QuestionScore {
            question: item.question.clone(),
            path: out.path.clone(),
            citations_valid: out.verification.invalid.is_empty(),
            citation_coverage: out.verification.coverage,
            faithfulness: None,
            answer_relevancy: None,
            context_precision: None,
        };
        if let Some(judge) = &claude {
            score.faithfulness = faithfulness(judge, &out.answer, &contexts).await?;
            score.context_precision = context_precision(judge, &item.question, &contexts).await?;
            if let Some(embedder) = &embedder {
                let generated = generated_questions(judge, &out.answer).await?;
                if !generated.is_empty() {
                    let mut texts = vec![item.question.clone()];
                    texts.extend(generated);
                    let vectors = embedder.embed(&texts).await?;
                    let q = &vectors[0];
                    let sims: Vec<f64> = vectors[1..].iter().map(|v| cosine(q, v)).collect();
                    score.answer_relevancy = Some(sims.iter().sum::<f64>() / sims.len() as f64);
                }
            }
        }
        scores.push(score);
    }
    let n = scores.len() as f64;
    let mean = |f: &dyn Fn(&QuestionScore) -> Option<f64>| {
        let values: Vec<f64> = scores.iter().filter_map(f).collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    Ok(RagReport {
        questions: scores.len(),
        citation_validity: scores.iter().filter(|s| s.citations_valid).count() as f64 / n,
        citation_coverage: scores.iter().map(|s| s.citation_coverage).sum::<f64>() / n,
        faithfulness: mean(&|s| s.faithfulness),
        answer_relevancy: mean(&|s| s.answer_relevancy),
        context_precision: mean(&|s| s.context_precision),
        note: claude.is_none().then(|| {
            "no language model configured: only citation validity and coverage were computed"
                .to_string()
        }),
        per_question: scores,
    })
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// Asks the judge for JSON and parses the first JSON object in its reply.
async fn judge(claude: &Claude, prompt: String) -> anyhow::Result<Value> {
    let request = MessageRequest::new(1024)
        .system("You are a strict evaluator. Reply with one JSON object and nothing else.")
        .message(InputMessage::user(prompt));
    let response = claude.send(&request).await?;
    let text = response.message.text();
    let start = text.find('{');
    let end = text.rfind('}');
    match (start, end) {
        (Some(s), Some(e)) if s < e => Ok(serde_json::from_str(&text[s..=e])?),
        _ => anyhow::bail!("the judge did not reply with JSON: {text}"),
    }
}

fn numbered(contexts: &[String]) -> String {
    contexts
        .iter()
        .enumerate()
        .map(|(i, c)| format!("[{}] {c}", i + 1))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// RAGAS faithfulness: claims of the answer supported by the contexts / all its claims.
async fn faithfulness(
    claude: &Claude,
    answer: &str,
    contexts: &[String],
) -> anyhow::Result<Option<f64>> {
    let reply = judge(
        claude,
        format!(
            "Break the answer into its factual claims and say for each whether the context \
             supports it. Reply as {{\"claims\": [{{\"claim\": \"...\", \"supported\": true}}]}}.\n\n\
             Context:\n{}\n\nAnswer:\n{answer}",
            numbered(contexts)
        ),
    )
    .await?;
    let claims = reply["claims"].as_array().cloned().unwrap_or_default();
    if claims.is_empty() {
        return Ok(None);
    }
    let supported = claims.iter().filter(|c| c["supported"] == true).count();
    Ok(Some(supported as f64 / claims.len() as f64))
}

/// RAGAS context precision: mean of precision@k over the ranks k whose context is relevant.
async fn context_precision(
    claude: &Claude,
    question: &str,
    contexts: &[String],
) -> anyhow::Result<Option<f64>> {
    if contexts.is_empty() {
        return Ok(None);
    }
    let reply = judge(
        claude,
        format!(
            "For each numbered context, say whether it is useful to answer the question. Reply \
             as {{\"verdicts\": [true, false, ...]}} with one verdict per context, in order.\n\n\
             Question: {question}\n\nContexts:\n{}",
            numbered(contexts)
        ),
    )
    .await?;
    let verdicts: Vec<bool> = reply["verdicts"]
        .as_array()
        .map(|v| v.iter().map(|x| x == true).collect())
        .unwrap_or_default();
    Ok(Some(precision_at_relevant(&verdicts)))
}

/// `sum_k (precision@k * v_k) / sum_k v_k`, 0 when nothing is relevant.
pub fn precision_at_relevant(verdicts: &[bool]) -> f64 {
    let mut hits = 0.0;
    let mut total = 0.0;
    for (i, relevant) in verdicts.iter().enumerate() {
        if *relevant {
            hits += 1.0;
            total += hits / (i + 1) as f64;
        }
    }
    if hits == 0.0 { 0.0 } else { total / hits }
}

/// RAGAS answer relevancy's generated questions: three questions the answer would answer.
async fn generated_questions(claude: &Claude, answer: &str) -> anyhow::Result<Vec<String>> {
    let reply = judge(
        claude,
        format!(
            "Write three questions that this answer answers. Reply as {{\"questions\": \
             [\"...\", \"...\", \"...\"]}}.\n\nAnswer:\n{answer}"
        ),
    )
    .await?;
    Ok(reply["questions"]
        .as_array()
        .map(|q| {
            q.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_precision_weights_early_relevant_contexts() {
        // Relevant at ranks 1 and 3: (1/1 + 2/3) / 2.
        assert_eq!(
            precision_at_relevant(&[true, false, true]),
            (1.0 + 2.0 / 3.0) / 2.0
        );
        assert_eq!(precision_at_relevant(&[false, true]), 0.5);
        assert_eq!(precision_at_relevant(&[false, false]), 0.0);
    }
}
