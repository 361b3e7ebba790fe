-- Approval requests: one destructive action, bound to the SHA-256 of the canonical JSON of
-- (tool, arguments, principal), waiting for the people the policy decision names.
CREATE TABLE steward.approvals (
    id                    text PRIMARY KEY,
    created_at            timestamptz NOT NULL DEFAULT now(),
    expires_at            timestamptz NOT NULL,
    state                 text NOT NULL CHECK (state IN
                            ('pending', 'approved', 'denied', 'expired', 'executing', 'executed', 'failed')),
    tool                  text NOT NULL,
    arguments             jsonb NOT NULL,
    action                jsonb NOT NULL,
    action_hash           text NOT NULL,
    principal             text NOT NULL,
    principal_kind        text NOT NULL CHECK (principal_kind IN ('human', 'agent')),
    on_behalf_of          text,
    channel               text NOT NULL,
    reason                text NOT NULL,
    approvers             text[] NOT NULL,
    min_approvals         integer NOT NULL CHECK (min_approvals >= 1),
    independent_approvers boolean NOT NULL,
    decided_at            timestamptz,
    finished_at           timestamptz,
    error                 text
);

CREATE INDEX approvals_open ON steward.approvals (action_hash) WHERE state IN ('pending', 'approved');

-- One vote per person per request.
CREATE TABLE steward.approval_votes (
    approval_id text NOT NULL REFERENCES steward.approvals (id),
    approver    text NOT NULL,
    approve     boolean NOT NULL,
    comment     text,
    channel     text NOT NULL,
    voted_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (approval_id, approver)
);
