-- The instant a diagnosis evaluates its checks at (`--as-of`), so its data-quality checks agree
-- with the `steward check` run that started it; NULL means "now".
ALTER TABLE steward.agent_runs ADD COLUMN as_of text;
