-- Data-quality findings: one row per ongoing anomaly (or check error), updated on every run
-- while it lasts (fingerprint = check + kind of finding), resolved when the check passes.
CREATE TABLE steward.dq_findings (
    id             bigserial PRIMARY KEY,
    fingerprint    text        NOT NULL,
    check_name     text        NOT NULL,
    check_kind     text        NOT NULL,
    table_name     text        NOT NULL,
    column_name    text,
    finding_kind   text        NOT NULL CHECK (finding_kind IN ('anomaly', 'check_error')),
    state          text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    severity       text        NOT NULL CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
    message        text        NOT NULL,
    window_start   timestamptz,
    window_end     timestamptz,
    metric         double precision,
    baseline       double precision,
    threshold      double precision,
    evidence_sql   text[]      NOT NULL,
    details        jsonb       NOT NULL,
    occurrences    integer     NOT NULL DEFAULT 1,
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz
);

CREATE UNIQUE INDEX dq_findings_one_open ON steward.dq_findings (fingerprint) WHERE state = 'open';
CREATE INDEX dq_findings_table ON steward.dq_findings (table_name, created_at DESC);

-- The accepted column list per schema check; drift is reported until accepted again.
CREATE TABLE steward.dq_schema_snapshots (
    check_name  text        PRIMARY KEY,
    table_name  text        NOT NULL,
    columns     jsonb       NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now()
);
