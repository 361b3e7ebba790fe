-- BM25 over each chunk's own language-aware lexemes, with a read cost that does not grow with
-- the corpus: one posting per (chunk, lexeme) holding its term frequency, the chunk's length
-- and a precomputed impact, indexed per lexeme in impact order, so a query reads only the best
-- postings of each of its words instead of ranking every chunk that contains one of them.
-- Per-tenant document frequencies and length totals give the exact IDF and average length.
-- Triggers on rag_chunks keep all of it in step with the chunks, inside the same transaction.
CREATE TABLE steward.rag_postings (
    chunk_id  bigint    NOT NULL,
    lexeme    text      NOT NULL,
    tenant    text      NOT NULL,
    ts_config regconfig NOT NULL,
    tf        integer   NOT NULL,
    len       integer   NOT NULL,
    -- BM25's term-frequency part at an average length of 100 (k1 1.2, b 0.75): only the order
    -- within a lexeme matters; queries rescore with the tenant's real average length.
    impact    real      NOT NULL,
    PRIMARY KEY (chunk_id, lexeme)
);
CREATE INDEX rag_postings_impact ON steward.rag_postings
    (tenant, ts_config, lexeme, impact DESC) INCLUDE (chunk_id, tf, len);

-- Chunks per lexeme (document frequency), per tenant and text configuration.
CREATE TABLE steward.rag_lexicon (
    tenant    text      NOT NULL,
    ts_config regconfig NOT NULL,
    lexeme    text      NOT NULL,
    df        integer   NOT NULL,
    PRIMARY KEY (tenant, ts_config, lexeme)
);
CREATE INDEX rag_lexicon_unused ON steward.rag_lexicon (tenant) WHERE df <= 0;

-- Chunks and their summed lengths per tenant and text configuration (N and average length).
CREATE TABLE steward.rag_corpus (
    tenant    text      NOT NULL,
    ts_config regconfig NOT NULL,
    chunks    bigint    NOT NULL,
    total_len bigint    NOT NULL,
    PRIMARY KEY (tenant, ts_config)
);

-- Adds the postings of chunks `ids` and counts them in the lexicon and corpus. Upserts run in
-- key order so concurrent writers lock shared rows in the same order.
CREATE FUNCTION steward.rag_terms_add(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    WITH terms AS (
        SELECT c.id, c.tenant, c.ts_config, u.lexeme,
               coalesce(cardinality(u.positions), 1) AS tf
        FROM steward.rag_chunks c, unnest(c.tsv) u
        WHERE c.id = ANY (ids)
    ), lengths AS (
        SELECT id, sum(tf)::integer AS len FROM terms GROUP BY id
    ), added AS (
        INSERT INTO steward.rag_postings (chunk_id, lexeme, tenant, ts_config, tf, len, impact)
        SELECT t.id, t.lexeme, t.tenant, t.ts_config, t.tf, l.len,
               (t.tf * 2.2 / (t.tf + 1.2 * (0.25 + 0.75 * l.len / 100.0)))::real
        FROM terms t JOIN lengths l USING (id)
        RETURNING chunk_id, lexeme, tenant, ts_config, len
    ), lexicon AS (
        INSERT INTO steward.rag_lexicon AS l (tenant, ts_config, lexeme, df)
        SELECT tenant, ts_config, lexeme, count(*) FROM added
        GROUP BY tenant, ts_config, lexeme ORDER BY tenant, ts_config, lexeme
        ON CONFLICT (tenant, ts_config, lexeme) DO UPDATE SET df = l.df + EXCLUDED.df
    )
    INSERT INTO steward.rag_corpus AS s (tenant, ts_config, chunks, total_len)
    SELECT tenant, ts_config, count(*), sum(len)
    FROM (SELECT DISTINCT chunk_id, tenant, ts_config, len FROM added) per_chunk
    GROUP BY tenant, ts_config ORDER BY tenant, ts_config
    ON CONFLICT (tenant, ts_config) DO UPDATE
        SET chunks = s.chunks + EXCLUDED.chunks, total_len = s.total_len + EXCLUDED.total_len;
$$;

-- Removes the postings of chunks `ids` and takes them out of the lexicon and corpus.
CREATE FUNCTION steward.rag_terms_remove(ids bigint[]) RETURNS void LANGUAGE sql AS $$
    WITH removed AS (
        DELETE FROM steward.rag_postings WHERE chunk_id = ANY (ids)
        RETURNING chunk_id, lexeme, tenant, ts_config, len
    ), lexicon AS (
        UPDATE steward.rag_lexicon l SET df = l.df - r.n
        FROM (SELECT tenant, ts_config, lexeme, count(*) AS n FROM removed
              GROUP BY tenant, ts_config, lexeme) r
        WHERE l.tenant = r.tenant AND l.ts_config = r.ts_config AND l.lexeme = r.lexeme
    )
    UPDATE steward.rag_corpus s SET chunks = s.chunks - r.n, total_len = s.total_len - r.len
    FROM (SELECT tenant, ts_config, count(*) AS n, sum(len) AS len
          FROM (SELECT DISTINCT chunk_id, tenant, ts_config, len FROM removed) per_chunk
          GROUP BY tenant, ts_config) r
    WHERE s.tenant = r.tenant AND s.ts_config = r.ts_config;
    DELETE FROM steward.rag_lexicon WHERE df <= 0;
$$;

CREATE FUNCTION steward.rag_chunks_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM steward.rag_terms_add(ARRAY(SELECT id FROM inserted));
    RETURN NULL;
END
$$;

CREATE FUNCTION steward.rag_chunks_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM steward.rag_terms_remove(ARRAY(SELECT id FROM deleted));
    RETURN NULL;
END
$$;

-- A chunk whose text changes in place (Steward only ever updates ordinals) is re-counted.
CREATE FUNCTION steward.rag_chunk_text_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM steward.rag_terms_remove(ARRAY[OLD.id]);
    PERFORM steward.rag_terms_add(ARRAY[NEW.id]);
    RETURN NULL;
END
$$;

CREATE TRIGGER rag_chunks_terms_insert AFTER INSERT ON steward.rag_chunks
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION steward.rag_chunks_inserted();
CREATE TRIGGER rag_chunks_terms_delete AFTER DELETE ON steward.rag_chunks
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION steward.rag_chunks_deleted();
CREATE TRIGGER rag_chunks_terms_update
    AFTER UPDATE OF tenant, heading_path, content, ts_config ON steward.rag_chunks
    FOR EACH ROW EXECUTE FUNCTION steward.rag_chunk_text_updated();

-- Chunks indexed before this migration.
SELECT steward.rag_terms_add(ARRAY(SELECT id FROM steward.rag_chunks));

-- Exact vector search for a tenant too small for the shared HNSW index to find its rows
-- (the planner picks it by the tenant's share of the vectors).
CREATE INDEX rag_embeddings_tenant ON steward.rag_embeddings (tenant, model);

-- The GIN index answered `tsv @@ query`, which returns matches in no useful order: every
-- match had to be ranked. The postings replace it.
DROP INDEX steward.rag_chunks_tsv;

GRANT SELECT ON steward.rag_postings, steward.rag_lexicon, steward.rag_corpus
    TO steward_rag_reader;
ALTER TABLE steward.rag_postings ENABLE ROW LEVEL SECURITY;
ALTER TABLE steward.rag_lexicon ENABLE ROW LEVEL SECURITY;
ALTER TABLE steward.rag_corpus ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON steward.rag_postings
    USING (tenant = current_setting('steward.tenant', true));
CREATE POLICY tenant_isolation ON steward.rag_lexicon
    USING (tenant = current_setting('steward.tenant', true));
CREATE POLICY tenant_isolation ON steward.rag_corpus
    USING (tenant = current_setting('steward.tenant', true));
