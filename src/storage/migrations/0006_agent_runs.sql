-- Diagnosis runs and their tool steps, so a run killed at any point can be resumed: the
-- transcript is saved after every model turn and every tool step is keyed by its tool_use id
-- (the idempotency key), recording the approval it waits for and its result once done.
CREATE TABLE steward.agent_runs (
    id          text        PRIMARY KEY,
    table_name  text        NOT NULL,
    description text        NOT NULL,
    principal   text        NOT NULL,
    groups      text[]      NOT NULL,
    state       text        NOT NULL CHECK (state IN ('running', 'waiting_approval', 'completed',
                                                      'budget_exhausted', 'failed')),
    path        text        NOT NULL CHECK (path IN ('claude', 'runbook')),
    path_note   text,
    model       text,
    messages    jsonb       NOT NULL DEFAULT '[]',
    usage       jsonb       NOT NULL DEFAULT
        '{"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}',
    cost_usd    double precision NOT NULL DEFAULT 0,
    steps       integer     NOT NULL DEFAULT 0,
    attempts    jsonb       NOT NULL DEFAULT '[]',
    report      jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE steward.agent_steps (
    run_id      text        NOT NULL REFERENCES steward.agent_runs (id),
    tool_use_id text        NOT NULL,
    step        integer     NOT NULL,
    tool        text        NOT NULL,
    input       jsonb       NOT NULL,
    state       text        NOT NULL CHECK (state IN ('started', 'waiting_approval', 'done')),
    approval_id text,
    decision    text,
    result      text,
    is_error    boolean,
    duration_ms bigint,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    PRIMARY KEY (run_id, tool_use_id)
);
