//! Citation checks on a generated answer: every `[N]` must point to one of the sources given,
//! and every sentence should carry one. Fabricated numbers and uncited sentences are reported,
//! with the share of sentences cited (coverage).

use schemars::JsonSchema;
use serde::Serialize;

/// The answer's sentence that says the sources do not cover the question, per language.
pub const NO_INFO_ES: &str = "No tengo información sobre eso en las fuentes provistas.";
pub const NO_INFO_EN: &str = "I don't have information about that in the provided sources.";

/// What the check found.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Verification {
    /// Every citation points to a provided source and every sentence is cited.
    pub valid: bool,
    /// Distinct citation numbers used, ascending.
    pub cited: Vec<usize>,
    /// Citations outside 1..=sources (fabricated).
    pub invalid: Vec<usize>,
    /// Sentences without any citation (the "no information" sentence is exempt).
    pub uncited_sentences: Vec<String>,
    /// Share of sentences with at least one valid citation.
    pub coverage: f64,
}

/// Checks `answer` against `sources` numbered 1..=sources.
pub fn verify(answer: &str, sources: usize) -> Verification {
    let sentences = sentences(answer);
    let mut cited: Vec<usize> = Vec::new();
    let mut invalid: Vec<usize> = Vec::new();
    let mut uncited = Vec::new();
    let mut covered = 0usize;
    let mut counted = 0usize;
    for sentence in &sentences {
        if sentence == NO_INFO_ES || sentence == NO_INFO_EN {
            continue;
        }
        counted += 1;
        let numbers = citations(sentence);
        let mut has_valid = false;
        for n in numbers {
            if (1..=sources).contains(&n) {
                has_valid = true;
                if !cited.contains(&n) {
                    cited.push(n);
                }
            } else if !invalid.contains(&n) {
                invalid.push(n);
            }
        }
        if has_valid {
            covered += 1;
        } else {
            uncited.push(sentence.clone());
        }
    }
    cited.sort_unstable();
    invalid.sort_unstable();
    Verification {
        valid: invalid.is_empty() && uncited.is_empty(),
        cited,
        invalid,
        uncited_sentences: uncited,
        coverage: if counted == 0 {
            1.0
        } else {
            covered as f64 / counted as f64
        },
    }
}

/// Numbers in `[N]` and `[N, M]` / `[N][M]` markers.
pub fn citations(text: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        if !inside.is_empty()
            && inside
                .split(',')
                .all(|p| !p.trim().is_empty() && p.trim().bytes().all(|b| b.is_ascii_digit()))
        {
            out.extend(
                inside
                    .split(',')
                    .filter_map(|p| p.trim().parse::<usize>().ok()),
            );
        }
        rest = &after[close + 1..];
    }
    out
}

/// Sentences of the answer: split at `.`/`?`/`!` followed by a space or line end, and at line
/// breaks (list items); headings and empty lines are not sentences. A citation right after the
/// full stop (`... works. [2]`) stays with its sentence.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches(['-', '*']).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // A quoted passage (extractive answers) is one unit, cited at its end.
        if let Some(quote) = line.strip_prefix('>') {
            let mut quote = quote.trim().to_string();
            push_sentence(&mut out, &mut quote);
            continue;
        }
        let mut current = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            current.push(chars[i]);
            if ".?!".contains(chars[i]) && chars.get(i + 1).is_none_or(|c| c.is_whitespace()) {
                // Citations after the stop belong to this sentence.
                let mut j = i + 1;
                loop {
                    let rest: String = chars[j..].iter().collect();
                    let trimmed = rest.trim_start();
                    if trimmed.starts_with('[')
                        && let Some(close) = trimmed.find(']')
                        && !citations(&trimmed[..=close]).is_empty()
                    {
                        let skipped = rest.len() - trimmed.len();
                        let take = skipped + close + 1;
                        let taken: String = rest.chars().take(take).collect();
                        current.push_str(&taken);
                        j += taken.chars().count();
                        continue;
                    }
                    break;
                }
                push_sentence(&mut out, &mut current);
                i = j;
                continue;
            }
            i += 1;
        }
        push_sentence(&mut out, &mut current);
    }
    out
}

fn push_sentence(out: &mut Vec<String>, current: &mut String) {
    let sentence = current.trim();
    if sentence.chars().any(char::is_alphanumeric) {
        out.push(sentence.to_string());
    }
    current.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_fabricated_citation_is_caught() {
        let answer = "Restart the loader first [1]. Then backfill the window [2][7].\n\
                      - Check freshness again. [3]\nIt usually works.";
        assert_eq!(
            verify(answer, 3),
            Verification {
                valid: false,
                cited: vec![1, 2, 3],
                invalid: vec![7],
                uncited_sentences: vec!["It usually works.".into()],
                coverage: 0.75,
            }
        );
    }

    #[test]
    fn a_quoted_passage_is_one_unit() {
        let v = verify("> First sentence. Second sentence. [1]\n> Another. [2]", 2);
        assert!(v.valid, "{v:?}");
    }

    #[test]
    fn a_fully_cited_answer_and_the_no_information_sentence_pass() {
        assert!(verify("Use the runbook [1, 2].", 2).valid);
        let none = verify(NO_INFO_ES, 0);
        assert!(none.valid && none.coverage == 1.0, "{none:?}");
        assert_eq!(citations("see [a] and [1,2] and [3]"), vec![1, 2, 3]);
    }
}
