//! The retrieval store in Postgres: documents, chunks and embeddings per tenant, written one
//! document per transaction (a failed document leaves its previous version intact), with
//! unchanged chunks kept by content hash, and the queries run as the `steward_rag_reader` role
//! so row-level security confines them to one tenant whatever the SQL says.

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

use super::lang::Lang;
use steward_tools::warehouse::names::quote_literal;

/// The role retrieval queries run as; row-level security applies to it.
pub const READER_ROLE: &str = "steward_rag_reader";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(
        "the index holds {stored}-dimension vectors of {model:?} but the configured model {configured:?} \
         makes {configured_dim}: run `steward reindex --embeddings` to re-embed"
    )]
    DimensionMismatch {
        model: String,
        stored: i32,
        configured: String,
        configured_dim: usize,
    },
}

/// A chunk ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewChunk {
    pub heading_path: String,
    pub content: String,
}

/// What indexing one document did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DocumentChange {
    /// The document's content hash matched: nothing was touched.
    pub unchanged: bool,
    pub chunks_kept: usize,
    pub chunks_added: usize,
    pub chunks_removed: usize,
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

#[derive(Clone)]
pub struct RagStore {
    pool: PgPool,
}

/// A new chunk's id and text, to embed.
pub type PendingEmbedding = (i64, String);

impl RagStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The model queries use: `(model, dimension)`, once something was embedded.
    pub async fn active_model(&self) -> Result<Option<(String, i32)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT active_model, active_dim FROM steward.rag_state")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Makes `model` the one queries use, creating its HNSW index first.
    pub async fn activate(&self, model: &str, dim: usize) -> Result<(), StoreError> {
        self.ensure_index(model, dim).await?;
        sqlx::query(
            "INSERT INTO steward.rag_state (active_model, active_dim) VALUES ($1, $2) \
             ON CONFLICT (singleton) DO UPDATE SET active_model = $1, active_dim = $2",
        )
        .bind(model)
        .bind(dim as i32)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Fails when the active vectors cannot be compared with `model`'s.
    pub async fn check_model(&self, model: &str, dim: usize) -> Result<(), StoreError> {
        comparable(self.active_model().await?, model, dim)
    }

    /// What a search checks first, in one round trip: whether the tenant has documents, and
    /// the active model.
    pub async fn search_preflight(
        &self,
        tenant: &str,
    ) -> Result<(bool, Option<(String, i32)>), StoreError> {
        let (has_tenant, model, dim): (bool, Option<String>, Option<i32>) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM steward.rag_documents WHERE tenant = $1), \
                    s.active_model, s.active_dim \
             FROM (SELECT) one LEFT JOIN steward.rag_state s ON true",
        )
        .bind(tenant)
        .fetch_one(&self.pool)
        .await?;
        Ok((has_tenant, model.zip(dim)))
    }

    /// The cosine HNSW index over one model's vectors (partial: `WHERE model = ...`).
    pub async fn ensure_index(&self, model: &str, dim: usize) -> Result<(), StoreError> {
        let name = format!("rag_embeddings_hnsw_{}", &sha256_hex(model)[..12]);
        let sql = format!(
            "CREATE INDEX IF NOT EXISTS {name} ON steward.rag_embeddings USING hnsw \
             ((embedding::vector({dim})) vector_cosine_ops) WHERE model = {}",
            quote_literal(model)
        );
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Writes one document in its own transaction: chunks whose hash is unchanged keep their
    /// rows (and embeddings); removed ones are deleted; new ones are returned for embedding.
    #[allow(clippy::too_many_arguments)]
    pub async fn upsert_document(
        &self,
        tenant: &str,
        source: &str,
        title: &str,
        kind: &str,
        lang: Lang,
        content_hash: &str,
        chunks: &[NewChunk],
    ) -> Result<
        (
            DocumentChange,
            Vec<PendingEmbedding>,
            Transaction<'static, Postgres>,
        ),
        StoreError,
    > {
        let mut tx = self.pool.begin().await?;
        let existing: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, content_hash FROM steward.rag_documents WHERE tenant = $1 AND source = $2 \
             FOR UPDATE",
        )
        .bind(tenant)
        .bind(source)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((_, hash)) = &existing
            && hash == content_hash
        {
            return Ok((
                DocumentChange {
                    unchanged: true,
                    chunks_kept: chunks.len(),
                    ..DocumentChange::default()
                },
                Vec::new(),
                tx,
            ));
        }
        let document_id: i64 = sqlx::query_scalar(
            "INSERT INTO steward.rag_documents (tenant, source, title, kind, lang, content_hash) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, source) DO UPDATE SET \
             title = EXCLUDED.title, kind = EXCLUDED.kind, lang = EXCLUDED.lang, \
             content_hash = EXCLUDED.content_hash, indexed_at = now() RETURNING id",
        )
        .bind(tenant)
        .bind(source)
        .bind(title)
        .bind(kind)
        .bind(lang.code())
        .bind(content_hash)
        .fetch_one(&mut *tx)
        .await?;
        let mut old: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, content_hash FROM steward.rag_chunks WHERE document_id = $1 ORDER BY ordinal",
        )
        .bind(document_id)
        .fetch_all(&mut *tx)
        .await?;
        let mut change = DocumentChange::default();
        let (mut kept, mut kept_ordinals) = (Vec::new(), Vec::new());
        let mut new_chunks: Vec<(i32, &NewChunk, String)> = Vec::new();
        for (ordinal, chunk) in chunks.iter().enumerate() {
            let hash = sha256_hex(&format!("{}\n{}", chunk.heading_path, chunk.content));
            match old.iter().position(|(_, h)| *h == hash) {
                Some(position) => {
                    kept.push(old.remove(position).0);
                    kept_ordinals.push(ordinal as i32);
                }
                None => new_chunks.push((ordinal as i32, chunk, hash)),
            }
        }
        change.chunks_kept = kept.len();
        change.chunks_added = new_chunks.len();
        sqlx::query(
            "UPDATE steward.rag_chunks c SET ordinal = k.ordinal \
             FROM unnest($1::bigint[], $2::integer[]) AS k (id, ordinal) \
             WHERE c.id = k.id AND c.ordinal <> k.ordinal",
        )
        .bind(&kept)
        .bind(&kept_ordinals)
        .execute(&mut *tx)
        .await?;
        // One statement for all new chunks: the full-text statistics trigger runs once.
        let ids: Vec<(i32, i64)> = sqlx::query_as(
            "INSERT INTO steward.rag_chunks (document_id, tenant, ordinal, heading_path, \
             content, content_hash, ts_config) \
             SELECT $1, $2, n.ordinal, n.heading_path, n.content, n.content_hash, $6::regconfig \
             FROM unnest($3::integer[], $4::text[], $5::text[], $7::text[]) \
                  AS n (ordinal, heading_path, content, content_hash) \
             RETURNING ordinal, id",
        )
        .bind(document_id)
        .bind(tenant)
        .bind(new_chunks.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(
            new_chunks
                .iter()
                .map(|c| c.1.heading_path.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            new_chunks
                .iter()
                .map(|c| c.1.content.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(lang.ts_config())
        .bind(new_chunks.iter().map(|c| c.2.as_str()).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        let pending = new_chunks
            .iter()
            .filter_map(|(ordinal, chunk, _)| {
                let id = ids.iter().find(|(o, _)| o == ordinal)?.1;
                Some((id, embedding_text(&chunk.heading_path, &chunk.content)))
            })
            .collect();
        let removed: Vec<i64> = old.into_iter().map(|(id, _)| id).collect();
        change.chunks_removed = removed.len();
        sqlx::query("DELETE FROM steward.rag_chunks WHERE id = ANY($1)")
            .bind(&removed)
            .execute(&mut *tx)
            .await?;
        Ok((change, pending, tx))
    }

    /// Stores `(chunk id, vector)` rows of one model in one statement, each tagged with its
    /// chunk's tenant.
    pub async fn insert_embeddings(
        tx: &mut Transaction<'static, Postgres>,
        model: &str,
        rows: &[(i64, Vec<f32>)],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO steward.rag_embeddings (chunk_id, tenant, model, dim, embedding) \
             SELECT r.chunk_id, c.tenant, $2, vector_dims(r.embedding::vector), \
                    r.embedding::vector \
             FROM unnest($1::bigint[], $3::text[]) AS r (chunk_id, embedding) \
             JOIN steward.rag_chunks c ON c.id = r.chunk_id \
             ON CONFLICT (chunk_id, model) DO UPDATE \
             SET embedding = EXCLUDED.embedding, dim = EXCLUDED.dim",
        )
        .bind(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .bind(model)
        .bind(
            rows.iter()
                .map(|(_, v)| vector_literal(v))
                .collect::<Vec<_>>(),
        )
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Deletes the tenant's documents under `prefix` that were not seen in this run.
    pub async fn remove_missing(
        &self,
        tenant: &str,
        prefix: &str,
        seen: &[String],
    ) -> Result<u64, StoreError> {
        let result = sqlx::query(
            "DELETE FROM steward.rag_documents WHERE tenant = $1 AND starts_with(source, $2) \
             AND NOT (source = ANY($3))",
        )
        .bind(tenant)
        .bind(prefix)
        .bind(seen)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    /// Whether the stored version of a document has this content hash.
    pub async fn is_current(
        &self,
        tenant: &str,
        source: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM steward.rag_documents WHERE tenant = $1 AND source = $2 \
             AND content_hash = $3)",
        )
        .bind(tenant)
        .bind(source)
        .bind(hash)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Tenants that have documents.
    pub async fn tenants(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT tenant FROM steward.rag_documents ORDER BY 1")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Chunks of the tenant (or of all tenants) that have no embedding of `model` yet.
    pub async fn missing_embeddings(
        &self,
        tenant: Option<&str>,
        model: &str,
        limit: i64,
    ) -> Result<Vec<PendingEmbedding>, StoreError> {
        let rows: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT c.id, c.heading_path, c.content FROM steward.rag_chunks c \
             WHERE ($1::text IS NULL OR c.tenant = $1) AND NOT EXISTS (SELECT 1 FROM \
             steward.rag_embeddings e WHERE e.chunk_id = c.id AND e.model = $2) \
             ORDER BY c.id LIMIT $3",
        )
        .bind(tenant)
        .bind(model)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, heading, content)| (id, embedding_text(&heading, &content)))
            .collect())
    }

    /// A transaction scoped to one tenant by row-level security: queries in it run as
    /// [`READER_ROLE`] with `steward.tenant` set, so they see no other tenant's rows.
    pub async fn tenant_scope(
        &self,
        tenant: &str,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::raw_sql(AssertSqlSafe(format!("SET LOCAL ROLE {READER_ROLE}")))
            .execute(&mut *tx)
            .await?;
        sqlx::query("SELECT set_config('steward.tenant', $1, true)")
            .bind(tenant)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

/// Fails when vectors of the `active` model cannot be compared with `model`'s (same id, other
/// dimension).
pub fn comparable(
    active: Option<(String, i32)>,
    model: &str,
    dim: usize,
) -> Result<(), StoreError> {
    match active {
        Some((active, stored)) if active == model && stored as usize != dim => {
            Err(StoreError::DimensionMismatch {
                model: active,
                stored,
                configured: model.into(),
                configured_dim: dim,
            })
        }
        _ => Ok(()),
    }
}

/// What gets embedded for a chunk: its heading path gives short chunks their context.
pub fn embedding_text(heading_path: &str, content: &str) -> String {
    if heading_path.is_empty() {
        content.to_string()
    } else {
        format!("{heading_path}\n{content}")
    }
}

/// `[0.1,0.2,...]`, pgvector's text form.
pub fn vector_literal(vector: &[f32]) -> String {
    let mut out = String::with_capacity(vector.len() * 10 + 2);
    out.push('[');
    for (i, v) in vector.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&v.to_string());
    }
    out.push(']');
    out
}
