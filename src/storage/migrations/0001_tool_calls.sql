-- Steward's own storage lives in its own schema, apart from any warehouse data.
CREATE SCHEMA IF NOT EXISTS steward;

-- One row per tool call, whatever channel it came from. Arguments are kept as a hash only:
-- they may carry data the caller should not find in an operations table.
CREATE TABLE steward.tool_calls (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    channel         text NOT NULL CHECK (channel IN ('mcp-stdio', 'mcp-http', 'cli', 'agent')),
    principal       text NOT NULL,
    tool            text NOT NULL,
    arguments_sha256 text NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed', 'invalid_params', 'unknown_tool')),
    error           text,
    duration_ms     integer NOT NULL
);

CREATE INDEX tool_calls_started_at ON steward.tool_calls (started_at DESC);
