//! BEIR-format retrieval datasets and the metrics BEIR reports for them.
//!
//! # Dataset layout
//!
//! A BEIR dataset is a directory holding
//!
//! - `corpus.jsonl`: one document a line, `{"_id": "...", "title": "...", "text": "..."}`
//!   (`title` may be missing or null and loads as `""`; `metadata` and other fields are ignored);
//! - `queries.jsonl`: one query a line, `{"_id": "...", "text": "..."}`;
//! - `qrels/<split>.tsv`: relevance judgments, a header line `query-id\tcorpus-id\tscore`, then
//!   one `query-id<TAB>corpus-id<TAB>integer score` row a line.
//!
//! [`load`] reads one split. Like BEIR's `GenericDataLoader` it keeps only the queries that the
//! split's qrels name, lets a later judgment of the same (query, document) pair replace an earlier
//! one, and keeps judgments of documents that are not in the corpus (pytrec_eval counts them as
//! relevant documents that can never be retrieved, so they lower recall and nDCG). The last two
//! are also reported in [`Dataset::warnings`]. Anything that BEIR would crash on, or that cannot
//! be evaluated meaningfully, is an error naming the file and line: a missing file, a line that is
//! not JSON or not a document/query, an empty or repeated `_id`, a qrels row without exactly three
//! tab-separated fields, a score that is not an integer, a query id absent from `queries.jsonl`.
//! Blank lines, `\r\n` line endings (SciFact's qrels use them) and a UTF-8 BOM are accepted. Line
//! numbers are 1-based physical lines, the qrels header being line 1.
//!
//! # Metrics
//!
//! [`evaluate`] computes, per query and averaged over the queries of the qrels, what BEIR's
//! `EvaluateRetrieval` gets from pytrec_eval (trec_eval 9) with its default relevance level 1:
//!
//! - `nDCG@k` (trec_eval `ndcg_cut.k`): DCG = Σ gain / log2(rank + 1) over the top k, with
//!   gain = the judged relevance (not 2^rel − 1) and 0 for unjudged or non-positive judgments;
//!   the ideal DCG takes the judged relevances of the query, best first, cut at k.
//!   0 when the query has no positively judged document.
//! - `Recall@k` (trec_eval `recall.k`): |relevant ∩ top k| / |relevant|, relevant = score ≥ 1.
//! - `MRR@k` (BEIR's `mrr` custom metric): 1 / rank of the first relevant document in the top k,
//!   else 0.
//!
//! Decisions, checked against pytrec_eval-terrier 0.5.11 and ir_measures 0.4.3:
//!
//! - The run gives each query's documents best first; that order is the ranking (no scores, so
//!   no tie-breaking). A document listed twice for one query is an error
//!   ([`BeirError::DuplicateInRun`]), as trec_eval refuses such runs; deduplicate before calling.
//! - The average is over every query in the qrels. A query the run does not mention, or with an
//!   empty list, scores 0 on every metric (trec_eval `-c`); it is listed in
//!   [`Metrics::queries_missing_from_run`]. BEIR itself averages its pytrec_eval metrics over the
//!   queries present in the run only; the two agree whenever the run covers every query, as BEIR
//!   retrievers' runs do.
//! - A query whose judgments are all ≤ 0 is **not** excluded: pytrec_eval scores it 0 on every
//!   metric and counts it in the average, and so does this module. Such queries are listed in
//!   [`Metrics::queries_without_relevant`] so a caller can see them (no SciFact query is one).
//! - Run queries absent from the qrels are ignored (as pytrec_eval does) and listed in
//!   [`Metrics::ignored_run_queries`].
//! - Values are not rounded (BEIR rounds its averages to 5 decimals when it prints them).
//! - BEIR's `ignore_identical_ids` (drop a retrieved document whose id equals the query id) is not
//!   applied; filter the run first if a dataset needs it. SciFact has no id shared by a query
//!   and a document.
//!
//! # Latency
//!
//! [`percentile`] / [`percentiles`] use linear interpolation between closest ranks, numpy's
//! default (`numpy.percentile(a, q)`, method `"linear"`, Hyndman & Fan type 7).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::quantile::quantile_sorted;

/// Relevance judgments: query id → (document id → relevance score).
pub type Qrels = BTreeMap<String, BTreeMap<String, i32>>;

/// A retrieval run: query id → document ids, best first.
pub type Run = HashMap<String, Vec<String>>;

/// Lowest score that makes a judged document relevant for recall and MRR (pytrec_eval's default
/// `relevance_level`).
pub const RELEVANCE_LEVEL: i32 = 1;

/// Cutoffs the [`Summary`] needs.
pub const SUMMARY_KS: [usize; 2] = [10, 100];

/// The qrels header line BEIR writes.
const QRELS_HEADER: [&str; 3] = ["query-id", "corpus-id", "score"];

/// Why a dataset could not be loaded or a run not evaluated.
#[derive(Debug, thiserror::Error)]
pub enum BeirError {
    /// A file could not be opened (for a missing split: `qrels/<split>.tsv`).
    #[error("cannot read {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line could not be read (for example, it is not UTF-8).
    #[error("{path}:{line}: cannot read line: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSONL line that is not JSON, or not a document/query object.
    #[error("{path}:{line}:{column}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column within the line.
        column: usize,
        /// What serde_json found wrong, without its "at line 1 column N" suffix.
        message: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// A line that parses but breaks the format (bad TSV row, empty or repeated id, unknown query).
    #[error("{path}:{line}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A split name that is empty or would leave the `qrels` directory.
    #[error("invalid split name {0:?}: expected a file stem such as \"test\"")]
    InvalidSplit(String),
    /// The run lists a document twice for one query.
    #[error("the run lists document {doc:?} more than once for query {query:?}")]
    DuplicateInRun {
        /// The query.
        query: String,
        /// The repeated document.
        doc: String,
    },
    /// A cutoff of 0 was asked for.
    #[error("metric cutoffs must be at least 1")]
    ZeroCutoff,
    /// The qrels hold no query, so there is nothing to average over.
    #[error("the qrels judge no query: there is nothing to average over")]
    NoQueries,
    /// [`Metrics::summary`] needs a cutoff that was not evaluated.
    #[error("the summary needs cutoff {0}, which was not evaluated")]
    MissingCutoff(usize),
}

/// One corpus document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// `_id`.
    pub id: String,
    /// `title`, `""` when missing or null.
    pub title: String,
    /// `text`.
    pub text: String,
}

/// One query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// `_id`.
    pub id: String,
    /// `text`.
    pub text: String,
}

/// Something odd in a split that BEIR tolerates silently, reported instead of failing the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LoadWarning {
    /// A judgment names a document that is not in the corpus. It is kept: pytrec_eval counts it
    /// as a relevant document that no run can retrieve.
    UnknownDocument {
        /// The qrels file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// The query.
        query_id: String,
        /// The document missing from the corpus.
        doc_id: String,
    },
    /// A (query, document) pair judged again; the later score replaces the earlier, as in BEIR.
    DuplicateJudgment {
        /// The qrels file.
        path: PathBuf,
        /// 1-based line number of the later row.
        line: usize,
        /// The query.
        query_id: String,
        /// The document.
        doc_id: String,
        /// The score replaced.
        previous: i32,
        /// The score kept.
        score: i32,
    },
    /// The first line is a judgment, not a header. BEIR would skip it; here it is kept.
    MissingHeader {
        /// The qrels file.
        path: PathBuf,
    },
}

impl fmt::Display for LoadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownDocument {
                path,
                line,
                query_id,
                doc_id,
            } => write!(
                f,
                "{}:{line}: query {query_id:?} judges document {doc_id:?}, which is not in the corpus",
                path.display()
            ),
            Self::DuplicateJudgment {
                path,
                line,
                query_id,
                doc_id,
                previous,
                score,
            } => write!(
                f,
                "{}:{line}: query {query_id:?} judges document {doc_id:?} again; \
                 score {score} replaces {previous}",
                path.display()
            ),
            Self::MissingHeader { path } => write!(
                f,
                "{}:1: no `query-id\\tcorpus-id\\tscore` header; the first line is read as a judgment",
                path.display()
            ),
        }
    }
}

/// One split of a BEIR dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The split loaded (`qrels/<split>.tsv`).
    pub split: String,
    /// Every corpus document, in file order.
    pub corpus: Vec<Document>,
    /// The queries the split's qrels judge, in `queries.jsonl` order.
    pub queries: Vec<Query>,
    /// The split's judgments.
    pub qrels: Qrels,
    /// What BEIR would have let pass silently.
    pub warnings: Vec<LoadWarning>,
}

impl Dataset {
    /// Number of judgments naming a document that is not in the corpus.
    pub fn unknown_document_judgments(&self) -> usize {
        self.warnings
            .iter()
            .filter(|w| matches!(w, LoadWarning::UnknownDocument { .. }))
            .count()
    }

    /// Number of (query, document) judgments in the split.
    pub fn judgment_count(&self) -> usize {
        self.qrels.values().map(BTreeMap::len).sum()
    }
}

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "_id")]
    id: String,
    #[serde(default)]
    title: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct RawQuery {
    #[serde(rename = "_id")]
    id: String,
    text: String,
}

struct QrelRow {
    line: usize,
    query: String,
    doc: String,
    score: i32,
}

/// Loads `dir/corpus.jsonl`, `dir/queries.jsonl` and `dir/qrels/<split>.tsv`.
///
/// The qrels are read first, so a missing split fails before the corpus is read.
pub fn load(dir: impl AsRef<Path>, split: &str) -> Result<Dataset, BeirError> {
    if split.is_empty()
        || split == "."
        || split == ".."
        || split.contains(['/', '\\'])
        || split.contains('\0')
    {
        return Err(BeirError::InvalidSplit(split.to_string()));
    }
    let dir = dir.as_ref();
    let qrels_path = dir.join("qrels").join(format!("{split}.tsv"));
    let mut warnings = Vec::new();
    let rows = read_qrels(&qrels_path, &mut warnings)?;

    let corpus_path = dir.join("corpus.jsonl");
    let mut corpus = Vec::new();
    let mut doc_lines: HashMap<String, usize> = HashMap::new();
    read_jsonl(&corpus_path, |line, raw: RawDocument| {
        check_id(&corpus_path, line, &raw.id, &mut doc_lines)?;
        corpus.push(Document {
            id: raw.id,
            title: raw.title.unwrap_or_default(),
            text: raw.text,
        });
        Ok(())
    })?;

    let queries_path = dir.join("queries.jsonl");
    let mut all_queries = Vec::new();
    let mut query_lines: HashMap<String, usize> = HashMap::new();
    read_jsonl(&queries_path, |line, raw: RawQuery| {
        check_id(&queries_path, line, &raw.id, &mut query_lines)?;
        all_queries.push(Query {
            id: raw.id,
            text: raw.text,
        });
        Ok(())
    })?;

    let mut qrels = Qrels::new();
    for row in rows {
        if !query_lines.contains_key(&row.query) {
            return Err(BeirError::Format {
                path: qrels_path,
                line: row.line,
                reason: format!(
                    "query-id {:?} is not in {}",
                    row.query,
                    queries_path.display()
                ),
            });
        }
        if !doc_lines.contains_key(&row.doc) {
            warnings.push(LoadWarning::UnknownDocument {
                path: qrels_path.clone(),
                line: row.line,
                query_id: row.query.clone(),
                doc_id: row.doc.clone(),
            });
        }
        let judged = qrels.entry(row.query.clone()).or_default();
        if let Some(previous) = judged.insert(row.doc.clone(), row.score) {
            warnings.push(LoadWarning::DuplicateJudgment {
                path: qrels_path.clone(),
                line: row.line,
                query_id: row.query,
                doc_id: row.doc,
                previous,
                score: row.score,
            });
        }
    }
    let queries = all_queries
        .into_iter()
        .filter(|q| qrels.contains_key(&q.id))
        .collect();
    Ok(Dataset {
        split: split.to_string(),
        corpus,
        queries,
        qrels,
        warnings,
    })
}

/// Rejects an empty id or one already seen in the same file.
fn check_id(
    path: &Path,
    line: usize,
    id: &str,
    seen: &mut HashMap<String, usize>,
) -> Result<(), BeirError> {
    if id.is_empty() {
        return Err(BeirError::Format {
            path: path.to_path_buf(),
            line,
            reason: "empty _id".to_string(),
        });
    }
    if let Some(first) = seen.insert(id.to_string(), line) {
        return Err(BeirError::Format {
            path: path.to_path_buf(),
            line,
            reason: format!("_id {id:?} repeats the one on line {first}"),
        });
    }
    Ok(())
}

/// Calls `f(line_number, line)` for each non-blank line, without its line ending (and without a
/// leading BOM on line 1).
fn for_each_line(
    path: &Path,
    mut f: impl FnMut(usize, &str) -> Result<(), BeirError>,
) -> Result<(), BeirError> {
    let file = File::open(path).map_err(|source| BeirError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::new(file);
    let mut buf = String::new();
    let mut line_no = 0usize;
    loop {
        buf.clear();
        line_no += 1;
        let read = reader
            .read_line(&mut buf)
            .map_err(|source| BeirError::Read {
                path: path.to_path_buf(),
                line: line_no,
                source,
            })?;
        if read == 0 {
            return Ok(());
        }
        let mut line = buf.trim_end_matches(['\n', '\r']);
        if line_no == 1 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        if line.trim().is_empty() {
            continue;
        }
        f(line_no, line)?;
    }
}

fn read_jsonl<T: DeserializeOwned>(
    path: &Path,
    mut f: impl FnMut(usize, T) -> Result<(), BeirError>,
) -> Result<(), BeirError> {
    for_each_line(path, |line_no, line| {
        let value = serde_json::from_str(line).map_err(|source| {
            let shown = source.to_string();
            let suffix = format!(" at line {} column {}", source.line(), source.column());
            BeirError::Json {
                path: path.to_path_buf(),
                line: line_no,
                column: source.column(),
                message: shown.strip_suffix(&suffix).unwrap_or(&shown).to_string(),
                source,
            }
        })?;
        f(line_no, value)
    })
}

fn read_qrels(path: &Path, warnings: &mut Vec<LoadWarning>) -> Result<Vec<QrelRow>, BeirError> {
    let mut rows = Vec::new();
    let mut first = true;
    for_each_line(path, |line_no, line| {
        let fields: Vec<&str> = line.split('\t').collect();
        if std::mem::take(&mut first) {
            if fields == QRELS_HEADER {
                return Ok(());
            }
            // BEIR skips the first line whatever it holds. A line that reads as a judgment is
            // kept (and reported); anything else is taken for a differently worded header.
            let is_judgment = fields.len() == 3 && fields[2].trim().parse::<i32>().is_ok();
            if !is_judgment {
                return Ok(());
            }
            warnings.push(LoadWarning::MissingHeader {
                path: path.to_path_buf(),
            });
        }
        let bad = |reason: String| BeirError::Format {
            path: path.to_path_buf(),
            line: line_no,
            reason,
        };
        let [query, doc, score] = fields[..] else {
            return Err(bad(format!(
                "expected 3 tab-separated fields (query-id, corpus-id, score), found {}",
                fields.len()
            )));
        };
        if query.is_empty() || doc.is_empty() {
            return Err(bad("empty query-id or corpus-id".to_string()));
        }
        let score = score
            .trim()
            .parse::<i32>()
            .map_err(|_| bad(format!("score {score:?} is not an integer")))?;
        rows.push(QrelRow {
            line: line_no,
            query: query.to_string(),
            doc: doc.to_string(),
            score,
        });
        Ok(())
    })?;
    Ok(rows)
}

/// One query's metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryMetrics {
    /// Judged documents with score ≥ [`RELEVANCE_LEVEL`].
    pub relevant: usize,
    /// Documents in the run for this query (0 when the run does not mention it).
    pub retrieved: usize,
    /// nDCG@k by k.
    pub ndcg: BTreeMap<usize, f64>,
    /// Recall@k by k.
    pub recall: BTreeMap<usize, f64>,
    /// MRR@k (reciprocal rank of the first relevant document within the top k) by k.
    pub mrr: BTreeMap<usize, f64>,
}

/// A run's metrics: means over the qrels' queries, and each query's own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Queries averaged over: every query of the qrels.
    pub queries: usize,
    /// Mean nDCG@k by k.
    pub ndcg: BTreeMap<usize, f64>,
    /// Mean Recall@k by k.
    pub recall: BTreeMap<usize, f64>,
    /// Mean MRR@k by k.
    pub mrr: BTreeMap<usize, f64>,
    /// Each judged query's metrics.
    pub per_query: BTreeMap<String, QueryMetrics>,
    /// Judged queries the run has no documents for (scored 0, counted in the means).
    pub queries_missing_from_run: Vec<String>,
    /// Judged queries with no document scored ≥ [`RELEVANCE_LEVEL`] (scored 0, counted in the
    /// means, as pytrec_eval does).
    pub queries_without_relevant: Vec<String>,
    /// Run queries that the qrels do not judge (ignored).
    pub ignored_run_queries: Vec<String>,
}

/// The headline numbers, serialized as `{"ndcg@10":…,"recall@10":…,"recall@100":…,"mrr@10":…}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean nDCG@10.
    #[serde(rename = "ndcg@10")]
    pub ndcg_at_10: f64,
    /// Mean Recall@10.
    #[serde(rename = "recall@10")]
    pub recall_at_10: f64,
    /// Mean Recall@100.
    #[serde(rename = "recall@100")]
    pub recall_at_100: f64,
    /// Mean MRR@10.
    #[serde(rename = "mrr@10")]
    pub mrr_at_10: f64,
}

impl Metrics {
    /// The headline numbers; the run must have been evaluated at [`SUMMARY_KS`].
    pub fn summary(&self) -> Result<Summary, BeirError> {
        let at = |map: &BTreeMap<usize, f64>, k: usize| {
            map.get(&k).copied().ok_or(BeirError::MissingCutoff(k))
        };
        Ok(Summary {
            ndcg_at_10: at(&self.ndcg, 10)?,
            recall_at_10: at(&self.recall, 10)?,
            recall_at_100: at(&self.recall, 100)?,
            mrr_at_10: at(&self.mrr, 10)?,
        })
    }

    /// Every mean under a `"<metric>@<k>"` key (`"ndcg@1"`, `"recall@100"`, `"mrr@10"`, …).
    pub fn flat(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (name, map) in [
            ("ndcg", &self.ndcg),
            ("recall", &self.recall),
            ("mrr", &self.mrr),
        ] {
            for (k, v) in map {
                out.insert(format!("{name}@{k}"), *v);
            }
        }
        out
    }
}

/// Scores `run` against `qrels` at each cutoff in `ks` (see the module docs for the definitions
/// and the handling of missing, unjudged and duplicated entries).
pub fn evaluate(qrels: &Qrels, run: &Run, ks: &[usize]) -> Result<Metrics, BeirError> {
    if ks.contains(&0) {
        return Err(BeirError::ZeroCutoff);
    }
    if qrels.is_empty() {
        return Err(BeirError::NoQueries);
    }
    let ks: BTreeSet<usize> = ks.iter().copied().collect();
    for (query, docs) in run {
        let mut seen = HashSet::with_capacity(docs.len());
        if let Some(doc) = docs.iter().find(|d| !seen.insert(d.as_str())) {
            return Err(BeirError::DuplicateInRun {
                query: query.clone(),
                doc: doc.clone(),
            });
        }
    }

    let mut per_query = BTreeMap::new();
    let mut queries_missing_from_run = Vec::new();
    let mut queries_without_relevant = Vec::new();
    for (query, judged) in qrels {
        let ranked = run.get(query).map(Vec::as_slice).unwrap_or_default();
        if ranked.is_empty() {
            queries_missing_from_run.push(query.clone());
        }
        let scored = score_query(judged, ranked, &ks);
        if scored.relevant == 0 {
            queries_without_relevant.push(query.clone());
        }
        per_query.insert(query.clone(), scored);
    }
    let mut ignored_run_queries: Vec<String> = run
        .keys()
        .filter(|q| !qrels.contains_key(*q))
        .cloned()
        .collect();
    ignored_run_queries.sort_unstable();

    let n = per_query.len() as f64;
    let mean = |pick: fn(&QueryMetrics) -> &BTreeMap<usize, f64>| -> BTreeMap<usize, f64> {
        ks.iter()
            .map(|&k| {
                let sum: f64 = per_query
                    .values()
                    .map(|m| pick(m).get(&k).copied().unwrap_or(0.0))
                    .sum();
                (k, sum / n)
            })
            .collect()
    };
    let ndcg = mean(|m| &m.ndcg);
    let recall = mean(|m| &m.recall);
    let mrr = mean(|m| &m.mrr);
    Ok(Metrics {
        queries: per_query.len(),
        ndcg,
        recall,
        mrr,
        per_query,
        queries_missing_from_run,
        queries_without_relevant,
        ignored_run_queries,
    })
}

/// trec_eval's DCG: gains in rank order, each divided by log2(rank + 1) (rank from 1); gains ≤ 0
/// add nothing.
fn dcg(gains: impl Iterator<Item = i32>) -> f64 {
    gains
        .enumerate()
        .filter(|&(_, gain)| gain > 0)
        .map(|(i, gain)| f64::from(gain) / ((i + 2) as f64).log2())
        .sum()
}

fn score_query(
    judged: &BTreeMap<String, i32>,
    ranked: &[String],
    ks: &BTreeSet<usize>,
) -> QueryMetrics {
    let relevant = judged.values().filter(|&&s| s >= RELEVANCE_LEVEL).count();
    let mut ideal: Vec<i32> = judged.values().copied().filter(|&s| s > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let gain = |doc: &String| judged.get(doc).copied().unwrap_or(0);
    let first_relevant = ranked
        .iter()
        .position(|d| gain(d) >= RELEVANCE_LEVEL)
        .map(|i| i + 1);

    let mut out = QueryMetrics {
        relevant,
        retrieved: ranked.len(),
        ndcg: BTreeMap::new(),
        recall: BTreeMap::new(),
        mrr: BTreeMap::new(),
    };
    for &k in ks {
        let top = &ranked[..k.min(ranked.len())];
        let ideal_dcg = dcg(ideal.iter().copied().take(k));
        let ndcg = if ideal_dcg > 0.0 {
            dcg(top.iter().map(gain)) / ideal_dcg
        } else {
            0.0
        };
        let recall = if relevant == 0 {
            0.0
        } else {
            let hits = top.iter().filter(|d| gain(d) >= RELEVANCE_LEVEL).count();
            hits as f64 / relevant as f64
        };
        let mrr = match first_relevant {
            Some(rank) if rank <= k => 1.0 / rank as f64,
            _ => 0.0,
        };
        out.ndcg.insert(k, ndcg);
        out.recall.insert(k, recall);
        out.mrr.insert(k, mrr);
    }
    out
}

/// The `q`-th percentile (0 ≤ q ≤ 100) of `samples`, interpolating linearly between the two
/// closest ranks exactly as `numpy.percentile(samples, q)` does by default. `None` for no
/// samples, a non-finite sample, or `q` outside [0, 100].
pub fn percentile(samples: &[f64], q: f64) -> Option<f64> {
    if samples.is_empty() || !(0.0..=100.0).contains(&q) || samples.iter().any(|s| !s.is_finite()) {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    quantile_sorted(&sorted, q / 100.0)
}

/// `(p50, p95)` of latency samples (see [`percentile`]); `None` when [`percentile`] is.
pub fn percentiles(samples_ms: &[f64]) -> Option<(f64, f64)> {
    Some((percentile(samples_ms, 50.0)?, percentile(samples_ms, 95.0)?))
}

/// Latency samples summarized for a JSON report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Number of samples.
    pub count: usize,
    /// Median, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile, in milliseconds.
    pub p95_ms: f64,
    /// Largest sample, in milliseconds.
    pub max_ms: f64,
}

impl LatencySummary {
    /// Summarizes `samples_ms`; `None` when [`percentile`] is.
    pub fn from_samples(samples_ms: &[f64]) -> Option<Self> {
        let (p50_ms, p95_ms) = percentiles(samples_ms)?;
        Some(Self {
            count: samples_ms.len(),
            p50_ms,
            p95_ms,
            max_ms: percentile(samples_ms, 100.0)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The hand-made fixture: 6 documents, 4 queries, split `test` judging q1–q3 with graded
    /// scores (CRLF line endings, as SciFact's qrels have), split `dev` judging q4 with an unknown
    /// document and a repeated judgment.
    const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tiny_beir");
    const TINY_RUN: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tiny_beir_run.json"
    );
    const KS: [usize; 4] = [1, 3, 5, 10];

    fn close(actual: f64, expected: f64) -> bool {
        (actual - expected).abs() < 1e-9
    }

    fn assert_close(actual: f64, expected: f64, what: &str) {
        assert!(
            close(actual, expected),
            "{what}: got {actual}, expected {expected}"
        );
    }

    fn tiny_run() -> Run {
        let text = std::fs::read_to_string(TINY_RUN).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn judged(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|&(d, s)| (d.to_string(), s)).collect()
    }

    /// A scratch copy of the fixture that is removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn copy_of_tiny() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let dir = std::env::temp_dir().join(format!(
                "beir-test-{}-{}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(dir.join("qrels")).unwrap();
            for file in [
                "corpus.jsonl",
                "queries.jsonl",
                "qrels/test.tsv",
                "qrels/dev.tsv",
            ] {
                std::fs::copy(Path::new(TINY).join(file), dir.join(file)).unwrap();
            }
            Self(dir)
        }

        fn write(&self, file: &str, contents: &str) {
            std::fs::write(self.0.join(file), contents).unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn loads_the_tiny_fixture() {
        let ds = load(TINY, "test").unwrap();
        assert_eq!(ds.split, "test");
        let ids: Vec<&str> = ds.corpus.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["d1", "d2", "d3", "d4", "d5", "d6"]);
        assert_eq!(
            ds.corpus[0],
            Document {
                id: "d1".into(),
                title: "Aspirin and heart attacks".into(),
                text: "Daily low-dose aspirin lowers the risk of a first heart attack.".into(),
            }
        );
        assert_eq!(ds.corpus[4].title, "", "a missing title loads as empty");
        // q4 is in queries.jsonl but not judged in `test`.
        let qids: Vec<&str> = ds.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(qids, ["q1", "q2", "q3"]);
        assert_eq!(ds.queries[1].text, "Vitamin D and fractures");
        let expected: Qrels = [
            ("q1", judged(&[("d1", 2), ("d2", 1), ("d5", 0)])),
            ("q2", judged(&[("d3", 1), ("d6", 2)])),
            ("q3", judged(&[("d4", 1), ("d2", 1)])),
        ]
        .into_iter()
        .map(|(q, j)| (q.to_string(), j))
        .collect();
        assert_eq!(ds.qrels, expected);
        assert_eq!(ds.judgment_count(), 7);
        assert!(ds.warnings.is_empty(), "{:?}", ds.warnings);
    }

    #[test]
    fn unknown_documents_and_repeated_judgments_are_warnings() {
        let ds = load(TINY, "dev").unwrap();
        assert_eq!(ds.queries.len(), 1);
        assert_eq!(ds.queries[0].id, "q4");
        // The later judgment of (q4, d1) wins; the unknown d99 is kept, as BEIR keeps it.
        assert_eq!(ds.qrels["q4"], judged(&[("d1", 2), ("d99", 1)]));
        let path = Path::new(TINY).join("qrels/dev.tsv");
        assert_eq!(
            ds.warnings,
            [
                LoadWarning::UnknownDocument {
                    path: path.clone(),
                    line: 3,
                    query_id: "q4".into(),
                    doc_id: "d99".into(),
                },
                LoadWarning::DuplicateJudgment {
                    path: path.clone(),
                    line: 4,
                    query_id: "q4".into(),
                    doc_id: "d1".into(),
                    previous: 1,
                    score: 2,
                },
            ]
        );
        assert_eq!(ds.unknown_document_judgments(), 1);
        let shown = ds.warnings[0].to_string();
        assert!(
            shown.contains("dev.tsv:3:") && shown.contains("\"d99\""),
            "{shown}"
        );
    }

    /// Every metric of the fixture run, worked out by hand. The run (tiny_beir_run.json) and the
    /// `test` judgments, with each retrieved document's judged score:
    ///
    /// - q1 (d1=2, d2=1, d5=0): d2 (1), d5 (0), d1 (2), d3 (unjudged). 2 relevant.
    /// - q2 (d3=1, d6=2): d4 (unjudged), d3 (1), d1 (unjudged), d6 (2). 2 relevant.
    /// - q3 (d4=1, d2=1): d1, d3, d5, all unjudged: no relevant document retrieved. 2 relevant.
    /// - q4: not judged in `test`, ignored.
    ///
    /// DCG@k = Σ rel_i / log2(i + 1) over ranks i ≤ k; the ideal ranking of q1 and q2 is (2, 1).
    #[test]
    fn tiny_fixture_metrics_match_hand_computation() {
        let ds = load(TINY, "test").unwrap();
        let m = evaluate(&ds.qrels, &tiny_run(), &KS).unwrap();
        let lg = |x: f64| x.log2();
        let ideal = |k: usize| match k {
            1 => 2.0 / lg(2.0),
            _ => 2.0 / lg(2.0) + 1.0 / lg(3.0),
        };

        let q1 = &m.per_query["q1"];
        assert_close(q1.ndcg[&1], (1.0 / lg(2.0)) / ideal(1), "q1 ndcg@1");
        for k in [3, 5, 10] {
            let dcg = 1.0 / lg(2.0) + 0.0 / lg(3.0) + 2.0 / lg(4.0);
            assert_close(q1.ndcg[&k], dcg / ideal(k), "q1 ndcg@3,5,10");
            assert_close(q1.recall[&k], 2.0 / 2.0, "q1 recall@3,5,10");
        }
        assert_close(q1.recall[&1], 1.0 / 2.0, "q1 recall@1");
        for k in KS {
            assert_close(q1.mrr[&k], 1.0 / 1.0, "q1 mrr");
        }

        let q2 = &m.per_query["q2"];
        assert_close(q2.ndcg[&1], 0.0 / ideal(1), "q2 ndcg@1");
        assert_close(q2.ndcg[&3], (1.0 / lg(3.0)) / ideal(3), "q2 ndcg@3");
        for k in [5, 10] {
            let dcg = 0.0 / lg(2.0) + 1.0 / lg(3.0) + 0.0 / lg(4.0) + 2.0 / lg(5.0);
            assert_close(q2.ndcg[&k], dcg / ideal(k), "q2 ndcg@5,10");
            assert_close(q2.recall[&k], 2.0 / 2.0, "q2 recall@5,10");
            assert_close(q2.mrr[&k], 1.0 / 2.0, "q2 mrr@5,10");
        }
        assert_close(q2.recall[&1], 0.0 / 2.0, "q2 recall@1");
        assert_close(q2.recall[&3], 1.0 / 2.0, "q2 recall@3");
        assert_close(q2.mrr[&1], 0.0, "q2 mrr@1");
        assert_close(q2.mrr[&3], 1.0 / 2.0, "q2 mrr@3");

        let q3 = &m.per_query["q3"];
        for k in KS {
            assert_eq!((q3.ndcg[&k], q3.recall[&k], q3.mrr[&k]), (0.0, 0.0, 0.0));
        }
        assert_eq!((q3.relevant, q3.retrieved), (2, 3));

        // Means over the three judged queries.
        let q1_ndcg = (1.0 / lg(2.0) + 2.0 / lg(4.0)) / ideal(3);
        let q2_ndcg3 = (1.0 / lg(3.0)) / ideal(3);
        let q2_ndcg5 = (1.0 / lg(3.0) + 2.0 / lg(5.0)) / ideal(5);
        assert_close(m.ndcg[&1], (0.5 + 0.0 + 0.0) / 3.0, "ndcg@1");
        assert_close(m.ndcg[&3], (q1_ndcg + q2_ndcg3 + 0.0) / 3.0, "ndcg@3");
        assert_close(m.ndcg[&5], (q1_ndcg + q2_ndcg5 + 0.0) / 3.0, "ndcg@5");
        assert_close(m.ndcg[&10], (q1_ndcg + q2_ndcg5 + 0.0) / 3.0, "ndcg@10");
        assert_close(m.recall[&1], (0.5 + 0.0 + 0.0) / 3.0, "recall@1");
        assert_close(m.recall[&3], (1.0 + 0.5 + 0.0) / 3.0, "recall@3");
        assert_close(m.recall[&5], (1.0 + 1.0 + 0.0) / 3.0, "recall@5");
        assert_close(m.recall[&10], (1.0 + 1.0 + 0.0) / 3.0, "recall@10");
        assert_close(m.mrr[&1], (1.0 + 0.0 + 0.0) / 3.0, "mrr@1");
        for k in [3, 5, 10] {
            assert_close(m.mrr[&k], (1.0 + 0.5 + 0.0) / 3.0, "mrr@3,5,10");
        }

        assert_eq!(m.queries, 3);
        assert_eq!(m.ignored_run_queries, ["q4"]);
        assert!(m.queries_missing_from_run.is_empty());
        assert!(m.queries_without_relevant.is_empty());
    }

    /// The same run scored by independent tools: nDCG@k (`ndcg_cut_k`) and Recall@k (`recall_k`)
    /// by pytrec_eval (pytrec-eval-terrier 0.5.11, i.e. trec_eval 9), MRR@k (`RR@k`) by
    /// ir_measures 0.4.3, on the run turned into strictly decreasing scores. Produced by
    /// tests/fixtures/tiny_beir_reference.py; the values are its printed reprs.
    #[test]
    fn tiny_fixture_metrics_match_pytrec_eval() {
        let ds = load(TINY, "test").unwrap();
        let m = evaluate(&ds.qrels, &tiny_run(), &KS).unwrap();
        // (query, k, nDCG@k, Recall@k, RR@k)
        let per_query: [(&str, usize, f64, f64, f64); 12] = [
            ("q1", 1, 0.5, 0.5, 1.0),
            ("q1", 3, 0.7601875334318685, 1.0, 1.0),
            ("q1", 5, 0.7601875334318685, 1.0, 1.0),
            ("q1", 10, 0.7601875334318685, 1.0, 1.0),
            ("q2", 1, 0.0, 0.0, 0.0),
            ("q2", 3, 0.23981246656813146, 0.5, 0.5),
            ("q2", 5, 0.5672074169568709, 1.0, 0.5),
            ("q2", 10, 0.5672074169568709, 1.0, 0.5),
            ("q3", 1, 0.0, 0.0, 0.0),
            ("q3", 3, 0.0, 0.0, 0.0),
            ("q3", 5, 0.0, 0.0, 0.0),
            ("q3", 10, 0.0, 0.0, 0.0),
        ];
        for (q, k, ndcg, recall, rr) in per_query {
            let got = &m.per_query[q];
            assert_close(got.ndcg[&k], ndcg, &format!("{q} ndcg@{k}"));
            assert_close(got.recall[&k], recall, &format!("{q} recall@{k}"));
            assert_close(got.mrr[&k], rr, &format!("{q} mrr@{k}"));
        }
        // (k, mean nDCG@k, mean Recall@k, mean RR@k)
        let means: [(usize, f64, f64, f64); 4] = [
            (
                1,
                0.16666666666666666,
                0.16666666666666666,
                0.3333333333333333,
            ),
            (3, 0.3333333333333333, 0.5, 0.5),
            (5, 0.44246498346291313, 0.6666666666666666, 0.5),
            (10, 0.44246498346291313, 0.6666666666666666, 0.5),
        ];
        for (k, ndcg, recall, mrr) in means {
            assert_close(m.ndcg[&k], ndcg, &format!("ndcg@{k}"));
            assert_close(m.recall[&k], recall, &format!("recall@{k}"));
            assert_close(m.mrr[&k], mrr, &format!("mrr@{k}"));
        }
    }

    /// pytrec_eval keeps a judged query with no relevant document (all scores ≤ 0) and scores it
    /// 0, ignores negative judgments as gains, and ignores run queries it has no judgments for.
    /// Reference values from pytrec-eval-terrier 0.5.11 (`ndcg_cut_3`, `recall_3`) and
    /// ir_measures 0.4.3 (`RR@3`) on exactly these qrels and run.
    #[test]
    fn queries_without_relevant_documents_count_as_zero_like_pytrec_eval() {
        let qrels: Qrels = [
            ("q1", judged(&[("a", 1), ("b", 2)])),
            ("q2", judged(&[("c", 0), ("d", 0)])),
            ("q3", judged(&[("e", 1), ("f", -1)])),
            ("q4", judged(&[("g", 1)])),
        ]
        .into_iter()
        .map(|(q, j)| (q.to_string(), j))
        .collect();
        let run: Run = [
            ("q1", strings(&["a", "x", "b"])),
            ("q2", strings(&["c"])),
            ("q3", strings(&["f", "e"])),
            ("q4", vec![]),
            ("q5", strings(&["a"])),
        ]
        .into_iter()
        .map(|(q, d)| (q.to_string(), d))
        .collect();
        let m = evaluate(&qrels, &run, &[3]).unwrap();
        assert_close(m.per_query["q1"].ndcg[&3], 0.7601875334318685, "q1");
        assert_close(m.per_query["q2"].ndcg[&3], 0.0, "q2");
        assert_close(m.per_query["q3"].ndcg[&3], 0.6309297535714575, "q3");
        assert_close(m.per_query["q4"].ndcg[&3], 0.0, "q4");
        assert_close(m.ndcg[&3], 0.3477793217508315, "mean ndcg@3");
        assert_close(m.recall[&3], 0.5, "mean recall@3");
        assert_close(m.mrr[&3], 0.375, "mean mrr@3");
        assert_eq!(m.queries, 4);
        assert_eq!(m.queries_without_relevant, ["q2"]);
        assert_eq!(m.queries_missing_from_run, ["q4"]);
        assert_eq!(m.ignored_run_queries, ["q5"]);
    }

    #[test]
    fn a_query_missing_from_the_run_scores_zero_like_an_empty_list() {
        let ds = load(TINY, "test").unwrap();
        let full = evaluate(&ds.qrels, &tiny_run(), &KS).unwrap();
        let mut run = tiny_run();
        run.remove("q1");
        let without = evaluate(&ds.qrels, &run, &KS).unwrap();
        run.insert("q1".into(), vec![]);
        let empty = evaluate(&ds.qrels, &run, &KS).unwrap();
        assert_eq!(without.ndcg, empty.ndcg);
        assert_eq!(without.queries_missing_from_run, ["q1"]);
        assert_eq!(without.queries, 3, "still averaged over all judged queries");
        assert_eq!(without.per_query["q1"].retrieved, 0);
        for k in KS {
            let q1 = &full.per_query["q1"];
            assert_close(without.ndcg[&k], full.ndcg[&k] - q1.ndcg[&k] / 3.0, "ndcg");
            assert_close(
                without.recall[&k],
                full.recall[&k] - q1.recall[&k] / 3.0,
                "recall",
            );
            assert_close(without.mrr[&k], full.mrr[&k] - q1.mrr[&k] / 3.0, "mrr");
        }
    }

    #[test]
    fn the_callers_order_is_the_ranking() {
        let qrels: Qrels = [("q".to_string(), judged(&[("a", 1)]))].into();
        let first: Run = [("q".to_string(), strings(&["a", "b"]))].into();
        let second: Run = [("q".to_string(), strings(&["b", "a"]))].into();
        assert_eq!(evaluate(&qrels, &first, &[1]).unwrap().mrr[&1], 1.0);
        assert_eq!(evaluate(&qrels, &second, &[1]).unwrap().mrr[&1], 0.0);
        assert_eq!(evaluate(&qrels, &second, &[2]).unwrap().mrr[&2], 0.5);
    }

    #[test]
    fn bad_runs_and_cutoffs_are_rejected() {
        let ds = load(TINY, "test").unwrap();
        let mut run = tiny_run();
        run.insert("q2".into(), strings(&["d4", "d3", "d4"]));
        let err = evaluate(&ds.qrels, &run, &KS).unwrap_err();
        assert!(
            matches!(&err, BeirError::DuplicateInRun { query, doc } if query == "q2" && doc == "d4"),
            "{err}"
        );
        assert!(matches!(
            evaluate(&ds.qrels, &tiny_run(), &[0, 10]),
            Err(BeirError::ZeroCutoff)
        ));
        assert!(matches!(
            evaluate(&Qrels::new(), &tiny_run(), &KS),
            Err(BeirError::NoQueries)
        ));
    }

    #[test]
    fn summary_serializes_with_metric_at_k_keys() {
        let ds = load(TINY, "test").unwrap();
        let m = evaluate(&ds.qrels, &tiny_run(), &[1, 10, 100]).unwrap();
        let summary = m.summary().unwrap();
        assert_eq!(summary.ndcg_at_10, m.ndcg[&10]);
        assert_eq!(summary.recall_at_100, m.recall[&100]);
        let json = serde_json::to_value(summary).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["mrr@10", "ndcg@10", "recall@10", "recall@100"]);
        assert_eq!(json["mrr@10"], serde_json::json!(0.5));
        let back: Summary = serde_json::from_value(json).unwrap();
        assert_eq!(back, summary);
        assert_eq!(m.flat().len(), 9);
        assert_eq!(m.flat()["recall@1"], m.recall[&1]);
        let err = evaluate(&ds.qrels, &tiny_run(), &[10])
            .unwrap()
            .summary()
            .unwrap_err();
        assert!(matches!(err, BeirError::MissingCutoff(100)), "{err}");
        // The full metrics serialize too (cutoffs become string keys).
        let full = serde_json::to_value(&m).unwrap();
        assert_eq!(full["per_query"]["q1"]["mrr"]["1"], serde_json::json!(1.0));
    }

    #[test]
    fn a_missing_split_names_the_qrels_file() {
        let err = load(TINY, "nosuch").unwrap_err();
        assert!(matches!(&err, BeirError::Open { path, source }
            if path.ends_with("qrels/nosuch.tsv") && source.kind() == std::io::ErrorKind::NotFound));
        assert!(err.to_string().contains("qrels/nosuch.tsv"), "{err}");
        for bad in ["", "..", "../test", "a/b"] {
            assert!(
                matches!(load(TINY, bad), Err(BeirError::InvalidSplit(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_malformed_json_line_names_file_and_line() {
        let dir = Scratch::copy_of_tiny();
        let corpus = std::fs::read_to_string(dir.0.join("corpus.jsonl")).unwrap();
        let mut lines: Vec<&str> = corpus.lines().collect();
        lines[2] = "{\"_id\": \"d3\", \"title\": \"Vitamin D\", \"text\": ";
        dir.write("corpus.jsonl", &lines.join("\n"));
        let err = load(&dir.0, "test").unwrap_err();
        assert!(matches!(&err, BeirError::Json { line: 3, .. }), "{err:?}");
        let shown = err.to_string();
        assert!(
            shown.ends_with("corpus.jsonl:3:44: EOF while parsing a value"),
            "{shown}"
        );

        // A well-formed line that is not a query: no `text`.
        let dir = Scratch::copy_of_tiny();
        dir.write(
            "queries.jsonl",
            "{\"_id\": \"q1\", \"text\": \"x\"}\n\n{\"_id\": \"q2\"}\n",
        );
        let shown = load(&dir.0, "test").unwrap_err().to_string();
        assert!(
            shown.ends_with("queries.jsonl:3:13: missing field `text`"),
            "{shown}"
        );
    }

    #[test]
    fn a_non_integer_score_names_file_and_line() {
        let dir = Scratch::copy_of_tiny();
        dir.write(
            "qrels/test.tsv",
            "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\td2\t1.5\n",
        );
        let err = load(&dir.0, "test").unwrap_err();
        let shown = err.to_string();
        assert!(matches!(&err, BeirError::Format { line: 3, .. }), "{err:?}");
        assert!(
            shown.contains("test.tsv:3:") && shown.contains("\"1.5\""),
            "{shown}"
        );
    }

    #[test]
    fn other_bad_qrels_rows_are_errors() {
        let dir = Scratch::copy_of_tiny();
        let cases = [
            (
                "query-id\tcorpus-id\tscore\nq1 d1 1\n",
                2,
                "3 tab-separated fields",
            ),
            (
                "query-id\tcorpus-id\tscore\nq1\td1\t1\textra\n",
                2,
                "found 4",
            ),
            (
                "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\n",
                3,
                "\"q9\" is not in",
            ),
            ("query-id\tcorpus-id\tscore\n\td1\t1\n", 2, "empty query-id"),
        ];
        for (qrels, line, needle) in cases {
            dir.write("qrels/test.tsv", qrels);
            let err = load(&dir.0, "test").unwrap_err();
            let shown = err.to_string();
            assert!(
                shown.contains(&format!("test.tsv:{line}:")) && shown.contains(needle),
                "{qrels:?}: {shown}"
            );
        }
    }

    #[test]
    fn repeated_ids_and_headerless_qrels() {
        let dir = Scratch::copy_of_tiny();
        dir.write("qrels/test.tsv", "q1\td1\t1\r\n");
        let ds = load(&dir.0, "test").unwrap();
        assert_eq!(ds.qrels["q1"], judged(&[("d1", 1)]));
        assert!(matches!(
            ds.warnings[..],
            [LoadWarning::MissingHeader { .. }]
        ));

        dir.write(
            "corpus.jsonl",
            "\u{feff}{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d1\", \"text\": \"b\"}\n",
        );
        let shown = load(&dir.0, "test").unwrap_err().to_string();
        assert!(
            shown.contains("corpus.jsonl:2:") && shown.contains("line 1"),
            "{shown}"
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_names_file_and_line() {
        let dir = Scratch::copy_of_tiny();
        std::fs::write(
            dir.0.join("queries.jsonl"),
            b"{\"_id\": \"q1\", \"text\": \"x\"}\n{\"_id\": \"q2\", \"text\": \"\xff\"}\n",
        )
        .unwrap();
        let err = load(&dir.0, "test").unwrap_err();
        assert!(matches!(&err, BeirError::Read { line: 2, .. }), "{err:?}");
        assert!(err.to_string().contains("queries.jsonl:2:"), "{err}");
    }

    /// numpy.percentile (numpy 2.4.6, default method "linear") gave the reference values.
    #[test]
    fn percentiles_interpolate_linearly_like_numpy() {
        // Sorted: 15, 20, 35, 40, 50. p50 sits on index 2; p95 on index 0.95 * 4 = 3.8.
        let samples = [15.0, 20.0, 35.0, 40.0, 50.0];
        assert_eq!(
            percentiles(&samples),
            Some((35.0, 40.0 + 0.8 * (50.0 - 40.0)))
        );
        // numpy: 11.0, 80.0 (sorted: 2, 3.25, 7.75, 8, 9, 11, 12.5, 15.5, 41, 60, 100).
        let samples = [
            12.5, 3.25, 8.0, 100.0, 41.0, 7.75, 9.0, 15.5, 2.0, 60.0, 11.0,
        ];
        let (p50, p95) = percentiles(&samples).unwrap();
        assert_close(p50, 11.0, "p50");
        assert_close(p95, 60.0 + 0.5 * (100.0 - 60.0), "p95");
        // numpy: 10.5, 19.05 for 1..=20.
        let ramp: Vec<f64> = (1..=20).map(f64::from).collect();
        let (p50, p95) = percentiles(&ramp).unwrap();
        assert_close(p50, 10.5, "ramp p50");
        assert_close(p95, 19.05, "ramp p95");
        // numpy: 0.2, 0.29.
        let (p50, p95) = percentiles(&[0.3, 0.1, 0.2]).unwrap();
        assert_close(p50, 0.2, "small p50");
        assert_close(p95, 0.29, "small p95");
        assert_eq!(percentiles(&[7.0]), Some((7.0, 7.0)));
        assert_eq!(percentiles(&[]), None);
        assert_eq!(percentiles(&[1.0, f64::NAN]), None);
        assert_eq!(percentile(&[1.0], 101.0), None);
        let summary = LatencySummary::from_samples(&samples).unwrap();
        assert_eq!((summary.count, summary.max_ms), (11, 100.0));
    }

    /// The shared SciFact copy: `$STEWARD_SCIFACT_DIR`, else `../shared/data/scifact` beside the
    /// repo (as CI lays it), else `/work/shared/data/scifact`.
    fn scifact_dir() -> PathBuf {
        let candidates = [
            std::env::var_os("STEWARD_SCIFACT_DIR").map(PathBuf::from),
            Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/scifact")),
            Some(PathBuf::from("/work/shared/data/scifact")),
        ];
        candidates
            .into_iter()
            .flatten()
            .find(|p| p.join("corpus.jsonl").is_file())
            .expect("SciFact not found: set STEWARD_SCIFACT_DIR")
    }

    #[test]
    fn loads_scifact_train() {
        let dir = scifact_dir();
        let ds = load(&dir, "train").unwrap();
        assert_eq!(ds.corpus.len(), 5183);
        assert_eq!(ds.queries.len(), 809);
        assert_eq!(ds.qrels.len(), 809);
        assert_eq!(ds.judgment_count(), 919);
        assert!(
            ds.warnings.is_empty(),
            "{:?}",
            &ds.warnings[..3.min(ds.warnings.len())]
        );
        assert!(ds.qrels.values().flat_map(|j| j.values()).all(|&s| s == 1));
        // The shared copy ships only the train split.
        assert!(matches!(load(&dir, "test"), Err(BeirError::Open { .. })));

        // A perfect run scores 1 everywhere.
        let run: Run = ds
            .qrels
            .iter()
            .map(|(q, j)| (q.clone(), j.keys().cloned().collect()))
            .collect();
        let m = evaluate(&ds.qrels, &run, &SUMMARY_KS).unwrap();
        let s = m.summary().unwrap();
        assert_eq!(
            (s.ndcg_at_10, s.recall_at_10, s.recall_at_100, s.mrr_at_10),
            (1.0, 1.0, 1.0, 1.0)
        );
    }
}
