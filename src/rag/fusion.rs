//! Reciprocal Rank Fusion of the vector and full-text rankings:
//! `score(d) = sum over signals of weight / (k + rank(d))`, ranks from 1. Each fused hit keeps
//! its rank and score per signal so a reader can see why it ranks where it does.

use schemars::JsonSchema;
use serde::Serialize;

/// One signal's view of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct SignalRank {
    /// 1-based position in that signal's ranking.
    pub rank: usize,
    /// The signal's own score (cosine similarity, or BM25).
    pub score: f64,
}

/// A fused hit.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Fused {
    pub chunk_id: i64,
    pub rrf: f64,
    pub vector: Option<SignalRank>,
    pub fulltext: Option<SignalRank>,
}

/// Fusion settings: `k` (default 60, as in the RRF paper) and a weight per signal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RrfConfig {
    pub k: f64,
    pub vector_weight: f64,
    pub fulltext_weight: f64,
}

impl Default for RrfConfig {
    fn default() -> Self {
        Self {
            k: 60.0,
            vector_weight: 1.0,
            fulltext_weight: 1.0,
        }
    }
}

/// Fuses two rankings (`(chunk_id, score)`, best first); ties by chunk id for determinism.
pub fn fuse(vector: &[(i64, f64)], fulltext: &[(i64, f64)], config: RrfConfig) -> Vec<Fused> {
    let mut hits: Vec<Fused> = Vec::with_capacity(vector.len() + fulltext.len());
    let mut add = |ranking: &[(i64, f64)], weight: f64, is_vector: bool| {
        for (i, (id, score)) in ranking.iter().enumerate() {
            let signal = SignalRank {
                rank: i + 1,
                score: *score,
            };
            let position = match hits.iter().position(|h| h.chunk_id == *id) {
                Some(p) => p,
                None => {
                    hits.push(Fused {
                        chunk_id: *id,
                        rrf: 0.0,
                        vector: None,
                        fulltext: None,
                    });
                    hits.len() - 1
                }
            };
            let hit = &mut hits[position];
            // A chunk listed twice by one signal counts once, at its best rank.
            let slot = if is_vector {
                &mut hit.vector
            } else {
                &mut hit.fulltext
            };
            if slot.is_none() {
                *slot = Some(signal);
                hit.rrf += weight / (config.k + signal.rank as f64);
            }
        }
    };
    add(vector, config.vector_weight, true);
    add(fulltext, config.fulltext_weight, false);
    hits.sort_by(|a, b| b.rrf.total_cmp(&a.rrf).then(a.chunk_id.cmp(&b.chunk_id)));
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn fusion_order_on_known_ranks() {
        // vector: 1, 2, 3; full text: 3, 4, 1.
        let vector = [(1, 0.9), (2, 0.8), (3, 0.7)];
        let fulltext = [(3, 0.5), (4, 0.4), (1, 0.3)];
        let fused = fuse(&vector, &fulltext, RrfConfig::default());
        let order: Vec<(i64, f64)> = fused.iter().map(|h| (h.chunk_id, h.rrf)).collect();
        let k = 60.0;
        assert_eq!(
            order,
            vec![
                (1, 1.0 / (k + 1.0) + 1.0 / (k + 3.0)),
                (3, 1.0 / (k + 3.0) + 1.0 / (k + 1.0)),
                (2, 1.0 / (k + 2.0)),
                (4, 1.0 / (k + 2.0)),
            ]
        );
        assert_eq!(
            fused[1].fulltext,
            Some(SignalRank {
                rank: 1,
                score: 0.5
            })
        );
        assert_eq!(fused[2].fulltext, None);

        // Weights move a signal's hits up.
        let weighted = fuse(
            &vector,
            &fulltext,
            RrfConfig {
                k: 1.0,
                vector_weight: 0.1,
                fulltext_weight: 1.0,
            },
        );
        let order: Vec<i64> = weighted.iter().map(|h| h.chunk_id).collect();
        assert_eq!(order, vec![3, 4, 1, 2]);
    }
}
