//! Retrieval over runbooks and docs: reading and chunking files, local or hosted embeddings,
//! a tenant-isolated store in Postgres (pgvector + full text), hybrid search fused by RRF,
//! cited answers with verification, and BEIR evaluation.

pub mod answer;
pub mod beir;
pub mod bench;
pub mod chunk;
pub mod cite;
pub mod command;
pub mod documents;
pub mod embed;
pub mod eval;
pub mod eval_rag;
pub mod fusion;
pub mod index;
pub mod lang;
pub mod rerank;
pub mod retrieve;
pub mod search;
pub mod service;
pub mod settings;
pub mod store;
