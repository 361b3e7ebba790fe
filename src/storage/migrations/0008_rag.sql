-- Retrieval over runbooks and docs: documents, their chunks (language-aware full-text vector)
-- and one embedding per chunk and model, every row tagged with its tenant and isolated by
-- row-level security for the role queries run as (steward_rag_reader).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE steward.rag_documents (
    id           bigserial   PRIMARY KEY,
    tenant       text        NOT NULL,
    source       text        NOT NULL,
    title        text        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('runbook', 'doc', 'incident')),
    lang         text        NOT NULL CHECK (lang IN ('en', 'es', 'simple')),
    content_hash text        NOT NULL,
    indexed_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, source)
);

CREATE TABLE steward.rag_chunks (
    id           bigserial PRIMARY KEY,
    document_id  bigint    NOT NULL REFERENCES steward.rag_documents (id) ON DELETE CASCADE,
    tenant       text      NOT NULL,
    ordinal      integer   NOT NULL,
    heading_path text      NOT NULL,
    content      text      NOT NULL,
    content_hash text      NOT NULL,
    ts_config    regconfig NOT NULL,
    tsv          tsvector  GENERATED ALWAYS AS
                 (to_tsvector(ts_config, heading_path || ' ' || content)) STORED
);
CREATE INDEX rag_chunks_document ON steward.rag_chunks (document_id);
CREATE INDEX rag_chunks_tsv ON steward.rag_chunks USING gin (tsv);
CREATE INDEX rag_chunks_tenant ON steward.rag_chunks (tenant);

-- One row per chunk and embedding model; an HNSW index per model (with its dimension) is
-- created when the model is first used, so vectors of another model never mix in.
CREATE TABLE steward.rag_embeddings (
    chunk_id  bigint NOT NULL REFERENCES steward.rag_chunks (id) ON DELETE CASCADE,
    tenant    text   NOT NULL,
    model     text   NOT NULL,
    dim       integer NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (chunk_id, model),
    CHECK (vector_dims(embedding) = dim)
);

-- The embedding model queries use; `steward reindex --embeddings` switches it when done.
CREATE TABLE steward.rag_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    active_model text    NOT NULL,
    active_dim   integer NOT NULL
);

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'steward_rag_reader') THEN
        CREATE ROLE steward_rag_reader NOLOGIN;
    END IF;
END
$$;
GRANT USAGE ON SCHEMA steward TO steward_rag_reader;
GRANT SELECT ON steward.rag_documents, steward.rag_chunks, steward.rag_embeddings,
    steward.rag_state TO steward_rag_reader;

ALTER TABLE steward.rag_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE steward.rag_chunks ENABLE ROW LEVEL SECURITY;
ALTER TABLE steward.rag_embeddings ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON steward.rag_documents
    USING (tenant = current_setting('steward.tenant', true));
CREATE POLICY tenant_isolation ON steward.rag_chunks
    USING (tenant = current_setting('steward.tenant', true));
CREATE POLICY tenant_isolation ON steward.rag_embeddings
    USING (tenant = current_setting('steward.tenant', true));
