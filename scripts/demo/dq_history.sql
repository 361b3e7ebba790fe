-- Demo data-quality history: 90 days of upstream data before the as-of instant
-- 2026-11-30 00:00 UTC, with three anomalies on the last day (Sunday 2026-11-29) that
-- `steward check --config scripts/demo/checks.toml --as-of 2026-11-30` must find:
--
--   raw.events                  volume drop: 40% of the usual Sunday rows
--   raw.payments.payment_method null spike: 35% NULL (normally about 1%)
--   features.customer_scores    churn_risk distribution drift in the last daily snapshot
--
-- Deterministic and idempotent like warehouse.sql: schemas rebuilt in one transaction, every
-- "random" value from hashtext() of the row number and a salt.
--
--   scripts/dev-services psql -v ON_ERROR_STOP=1 -f scripts/demo/dq_history.sql

\set ON_ERROR_STOP on

BEGIN;

SET LOCAL TimeZone = 'UTC';
SET LOCAL client_min_messages = warning;

DROP SCHEMA IF EXISTS raw CASCADE;
DROP SCHEMA IF EXISTS features CASCADE;
CREATE SCHEMA raw;
CREATE SCHEMA features;
COMMENT ON SCHEMA raw IS 'Demo upstream ("raw") layer feeding gold: events and payments, 90 days.';
COMMENT ON SCHEMA features IS 'Demo feature snapshots (daily) used by the churn model.';

CREATE FUNCTION pg_temp.u(salt text, n bigint) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT (hashtext(salt || ':' || n)::bigint + 2147483648) / 4294967296.0 $$;

-- Days 1..90 before the as-of instant; day 1 is 2026-11-29 (the anomalous day).
CREATE TEMP TABLE days ON COMMIT DROP AS
SELECT d AS days_ago,
       timestamptz '2026-11-30 00:00:00+00' - d * interval '1 day' AS day_start
FROM generate_series(1, 90) AS d;

-- ---------------------------------------------------------------------------------------------
CREATE TABLE raw.events (
    event_id    bigint      PRIMARY KEY,
    event_time  timestamptz NOT NULL,
    user_id     bigint      NOT NULL,
    event_type  text        NOT NULL
);
COMMENT ON TABLE raw.events IS
    'Clickstream events from the web and mobile apps, about 1,000 per weekday and 700 per weekend day.';

-- Rows per day: 1,000 on weekdays, 700 at weekends, +-5% noise; day 1 keeps only 40%.
CREATE TEMP TABLE event_days ON COMMIT DROP AS
SELECT days_ago, day_start,
       round(CASE WHEN extract(isodow FROM day_start) >= 6 THEN 700 ELSE 1000 END
             * (0.95 + 0.1 * pg_temp.u('ev-day', days_ago))
             * CASE WHEN days_ago = 1 THEN 0.4 ELSE 1 END)::int AS n
FROM days;

INSERT INTO raw.events (event_id, event_time, user_id, event_type)
SELECT row_number() OVER (ORDER BY d.days_ago DESC, s.i),
       d.day_start + (s.i - 1) * (interval '86399 seconds' / d.n),
       1 + floor(pg_temp.u('ev-user', d.days_ago * 10000 + s.i) * 2000)::bigint,
       (ARRAY['page_view', 'page_view', 'page_view', 'search', 'add_to_cart', 'checkout'])
           [1 + floor(pg_temp.u('ev-type', d.days_ago * 10000 + s.i) * 6)::int]
FROM event_days d
CROSS JOIN LATERAL generate_series(1, d.n) AS s(i);

-- ---------------------------------------------------------------------------------------------
CREATE TABLE raw.payments (
    payment_id     bigint        PRIMARY KEY,
    paid_at        timestamptz   NOT NULL,
    amount         numeric(12,2) NOT NULL,
    currency       char(3)       NOT NULL,
    payment_method text
);
COMMENT ON TABLE raw.payments IS
    'Payments from the payment provider feed, about 300 a day. payment_method is NULL when the '
    'provider did not report it (normally about 1%).';

INSERT INTO raw.payments (payment_id, paid_at, amount, currency, payment_method)
SELECT row_number() OVER (ORDER BY d.days_ago DESC, s.i),
       d.day_start + (s.i - 1) * interval '287 seconds',
       round((5 + 200 * pg_temp.u('pay-amt', d.days_ago * 1000 + s.i) ^ 2)::numeric, 2),
       (ARRAY['USD', 'EUR', 'EUR', 'GBP'])[1 + floor(pg_temp.u('pay-cur', d.days_ago * 1000 + s.i) * 4)::int],
       CASE
           WHEN pg_temp.u('pay-null', d.days_ago * 1000 + s.i)
                < CASE WHEN d.days_ago = 1 THEN 0.35 ELSE 0.01 END THEN NULL
           ELSE (ARRAY['card', 'card', 'card', 'paypal', 'bank_transfer'])
                    [1 + floor(pg_temp.u('pay-meth', d.days_ago * 1000 + s.i) * 5)::int]
       END
FROM days d
CROSS JOIN LATERAL generate_series(1, 300) AS s(i);

-- ---------------------------------------------------------------------------------------------
CREATE TABLE features.customer_scores (
    snapshot_at  timestamptz      NOT NULL,
    customer_id  bigint           NOT NULL,
    churn_risk   double precision NOT NULL,
    ltv_score    double precision NOT NULL,
    PRIMARY KEY (snapshot_at, customer_id)
);
COMMENT ON TABLE features.customer_scores IS
    'Daily feature snapshot per customer (500 customers, last 35 days): churn_risk in [0, 1], '
    'ltv_score in [0, 100].';

-- churn_risk ~ u^2 (mostly low); the last snapshot is computed from a broken upstream and
-- comes out as sqrt(u) (mostly high): a drifted feature.
INSERT INTO features.customer_scores (snapshot_at, customer_id, churn_risk, ltv_score)
SELECT d.day_start + interval '2 hours',
       c,
       CASE WHEN d.days_ago = 1
            THEN sqrt(pg_temp.u('risk', d.days_ago * 1000 + c))
            ELSE pg_temp.u('risk', d.days_ago * 1000 + c) ^ 2
       END,
       round((100 * pg_temp.u('ltv', c))::numeric, 2)::double precision
FROM days d
CROSS JOIN generate_series(1, 500) AS c
WHERE d.days_ago <= 35;

ANALYZE raw.events;
ANALYZE raw.payments;
ANALYZE features.customer_scores;

COMMIT;
