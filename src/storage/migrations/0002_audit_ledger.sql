-- The audit ledger replaces tool_calls: one row per event (tool call, approval requested,
-- decided, executed), hash-chained so that any edit, deletion or reordering is caught by
-- `steward audit verify`. Rows are appended only by steward::audit::AuditLedger::append,
-- which assigns seq (no sequence default: gaps must mean deletion) and the hashes under an
-- advisory lock. Old tool_calls rows stored only an argument hash and cannot be chained;
-- they are dropped with the table.
CREATE TABLE steward.audit_ledger (
    seq             bigint PRIMARY KEY CHECK (seq >= 1),
    recorded_at     timestamptz NOT NULL,
    event           text NOT NULL,
    principal       text NOT NULL,
    principal_kind  text NOT NULL CHECK (principal_kind IN ('human', 'agent')),
    on_behalf_of    text,
    channel         text NOT NULL,
    tool            text NOT NULL,
    arguments       jsonb NOT NULL,
    action          jsonb,
    decision        jsonb,
    approval_id     text,
    outcome         text NOT NULL,
    error           text,
    duration_ms     bigint NOT NULL,
    prev_hash       text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash            text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE INDEX audit_ledger_recorded_at ON steward.audit_ledger (recorded_at);
CREATE INDEX audit_ledger_approval_id ON steward.audit_ledger (approval_id)
    WHERE approval_id IS NOT NULL;

-- Append-only by API. This does not stop the owner or a superuser (nothing can); the hash
-- chain is what makes their edits evident. It documents intent and stops other roles.
REVOKE UPDATE, DELETE, TRUNCATE ON steward.audit_ledger FROM PUBLIC;

DROP TABLE steward.tool_calls;
