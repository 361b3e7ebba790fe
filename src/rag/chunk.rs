//! Chunking: each section (under its heading path) is split Markdown-aware by `text-splitter`
//! into pieces of at most `max_tokens` tokens of the embedding model's tokenizer, with
//! `overlap_tokens` of overlap, so chunks fit the model and keep their context.

use std::sync::Arc;

use text_splitter::{ChunkConfig, ChunkSizer, MarkdownSplitter};
use tokenizers::Tokenizer;

use super::documents::SourceDoc;
use super::store::NewChunk;

/// Token budget per chunk and overlap between neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSettings {
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

impl Default for ChunkSettings {
    /// 200 tokens (MiniLM was trained on 256 word pieces; the heading path is added when
    /// embedding) with 30 of overlap.
    fn default() -> Self {
        Self {
            max_tokens: 200,
            overlap_tokens: 30,
        }
    }
}

/// Counts tokens with the embedding model's tokenizer, or estimates 4 characters per token
/// when there is none (hosted embedders).
#[derive(Clone)]
pub enum TokenCounter {
    Tokenizer(Arc<Tokenizer>),
    Chars,
}

impl ChunkSizer for TokenCounter {
    fn size(&self, chunk: &str) -> usize {
        match self {
            Self::Tokenizer(tokenizer) => tokenizer
                .encode(chunk, false)
                .map(|e| e.len())
                .unwrap_or_else(|_| chunk.len().div_ceil(4)),
            Self::Chars => chunk.chars().count().div_ceil(4),
        }
    }
}

/// Splits a document into chunks (in order).
pub fn chunk(doc: &SourceDoc, counter: &TokenCounter, settings: ChunkSettings) -> Vec<NewChunk> {
    let config = ChunkConfig::new(settings.max_tokens)
        .with_sizer(counter.clone())
        .with_overlap(settings.overlap_tokens.min(settings.max_tokens / 2))
        .map(MarkdownSplitter::new);
    let Ok(splitter) = config else {
        // with_overlap only fails when overlap >= capacity, which the min above prevents.
        return Vec::new();
    };
    doc.sections
        .iter()
        .flat_map(|section| {
            splitter.chunks(&section.text).map(|piece| NewChunk {
                heading_path: section.heading_path.clone(),
                content: piece.trim().to_string(),
            })
        })
        .filter(|c| !c.content.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::documents::{Format, parse};

    #[test]
    fn sections_split_under_budget_with_overlap() {
        let words: Vec<String> = (0..400).map(|i| format!("word{i}")).collect();
        let text = format!(
            "# Title\n## Part\n{}\n## Short\nsmall text",
            words.join(" ")
        );
        let doc = parse("d.md", "d", text.as_bytes(), Format::Markdown).unwrap();
        let chunks = chunk(
            &doc,
            &TokenCounter::Chars,
            ChunkSettings {
                max_tokens: 100,
                overlap_tokens: 10,
            },
        );
        assert!(chunks.len() > 3, "{}", chunks.len());
        assert!(
            chunks
                .iter()
                .all(|c| TokenCounter::Chars.size(&c.content) <= 100)
        );
        assert_eq!(chunks[0].heading_path, "Title > Part");
        let last = chunks.last().unwrap();
        assert_eq!(
            (last.heading_path.as_str(), last.content.as_str()),
            ("Title > Short", "small text")
        );
        // Overlap: the second chunk starts with words the first one ends with.
        let first_tail = chunks[0].content.split(' ').next_back().unwrap();
        assert!(chunks[1].content.contains(first_tail), "{first_tail}");
    }
}
