-- At most one open request per exact action: concurrent identical calls share it instead of
-- each collecting its own approval (which would let one action run several times).
DROP INDEX IF EXISTS steward.approvals_open;
CREATE UNIQUE INDEX approvals_one_open ON steward.approvals (action_hash)
    WHERE state IN ('pending', 'approved', 'executing');
