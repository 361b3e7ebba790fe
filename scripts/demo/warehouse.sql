-- Demo warehouse: schema `gold` with customers, their orders and per-customer features.
--
--   scripts/dev-services psql -v ON_ERROR_STOP=1 -f scripts/demo/warehouse.sql
--
-- Deterministic and idempotent: the schema is dropped and rebuilt in one transaction; every
-- "random" value comes from hashtext() of the row number and a salt (never random() or now()),
-- and all times are relative to the fixed as-of instant 2026-11-30 00:00:00 UTC, so two loads
-- (on any machine, in any session time zone) give identical rows.
--
-- Sizes: 2,000 customers, 5,000 orders over the 90 days before the as-of instant, and one
-- feature row per customer.

\set ON_ERROR_STOP on

BEGIN;

-- Day arithmetic and ::date casts on timestamptz depend on the session time zone.
SET LOCAL TimeZone = 'UTC';
SET LOCAL client_min_messages = warning;

DROP SCHEMA IF EXISTS gold CASCADE;
CREATE SCHEMA gold;
COMMENT ON SCHEMA gold IS
    'Demo warehouse (curated "gold" layer): customers, orders and customer_features. '
    'Synthetic, deterministic data seeded by scripts/demo/warehouse.sql; as-of 2026-11-30 00:00 UTC.';

-- Uniform pseudo-random number in [0, 1) for (salt, row number); hashtext is an int4 hash.
CREATE FUNCTION pg_temp.u(salt text, n bigint) RETURNS double precision
    LANGUAGE sql IMMUTABLE STRICT
AS $$ SELECT (hashtext(salt || ':' || n)::bigint + 2147483648) / 4294967296.0 $$;

-- ---------------------------------------------------------------------------------------------
CREATE TABLE gold.customers (
    customer_id bigint      PRIMARY KEY,
    email       text        NOT NULL UNIQUE,
    full_name   text        NOT NULL,
    country     char(2),
    segment     text        NOT NULL CHECK (segment IN ('consumer', 'smb', 'enterprise')),
    created_at  timestamptz NOT NULL,
    is_active   boolean     NOT NULL
);

COMMENT ON TABLE gold.customers IS
    'One row per customer account (2,000 rows). Source of truth for segment and country. '
    'Accounts are never deleted: closed ones have is_active = false.';
COMMENT ON COLUMN gold.customers.customer_id IS 'Surrogate key, 1..2000; referenced by orders and customer_features.';
COMMENT ON COLUMN gold.customers.email IS 'Login e-mail, unique, lower case (synthetic: example.com/.org/.net domains).';
COMMENT ON COLUMN gold.customers.full_name IS 'Display name as typed by the customer (may contain accents).';
COMMENT ON COLUMN gold.customers.country IS
    'ISO 3166-1 alpha-2 billing country. NULL (about 1%) = not collected at sign-up; such customers are billed in USD.';
COMMENT ON COLUMN gold.customers.segment IS
    'consumer (about 70%), smb (small/medium business, about 22%) or enterprise (about 8%); drives order size.';
COMMENT ON COLUMN gold.customers.created_at IS 'Sign-up time (UTC), between 2023-01-01 and the as-of instant.';
COMMENT ON COLUMN gold.customers.is_active IS 'false = account closed or suspended (about 8%); closed accounts keep their history.';

INSERT INTO gold.customers (customer_id, email, full_name, country, segment, created_at, is_active)
SELECT
    i,
    lower(translate(n.first_name || '.' || n.last_name, 'áãçéëíñóöüø ', 'aaceeinoouo'))
        || '.' || i || '@example.' || (ARRAY['com', 'org', 'net'])[1 + (i % 3)],
    n.first_name || ' ' || n.last_name,
    CASE
        WHEN r.u_country < 0.01 THEN NULL
        WHEN r.u_country < 0.31 THEN 'US'
        WHEN r.u_country < 0.46 THEN 'DE'
        WHEN r.u_country < 0.58 THEN 'ES'
        WHEN r.u_country < 0.70 THEN 'BR'
        WHEN r.u_country < 0.82 THEN 'IN'
        WHEN r.u_country < 0.89 THEN 'GB'
        WHEN r.u_country < 0.94 THEN 'FR'
        WHEN r.u_country < 0.98 THEN 'MX'
        ELSE 'JP'
    END,
    CASE
        WHEN r.u_segment < 0.70 THEN 'consumer'
        WHEN r.u_segment < 0.92 THEN 'smb'
        ELSE 'enterprise'
    END,
    date_trunc('second', timestamptz '2023-01-01 00:00:00+00'
        + (timestamptz '2026-11-30 00:00:00+00' - timestamptz '2023-01-01 00:00:00+00') * r.u_created),
    r.u_active >= 0.08
FROM generate_series(1, 2000) AS g(i)
CROSS JOIN LATERAL (
    SELECT pg_temp.u('country', i) AS u_country,
           pg_temp.u('segment', i) AS u_segment,
           pg_temp.u('created', i) AS u_created,
           pg_temp.u('active', i)  AS u_active,
           pg_temp.u('first', i)   AS u_first,
           pg_temp.u('last', i)    AS u_last
) AS r
CROSS JOIN LATERAL (
    SELECT f.names[1 + floor(r.u_first * array_length(f.names, 1))::int] AS first_name,
           l.names[1 + floor(r.u_last * array_length(l.names, 1))::int]  AS last_name
    FROM (SELECT ARRAY['Ana', 'Lucas', 'Sofía', 'Jonas', 'Priya', 'Arjun', 'Emma', 'Noah', 'Olivia',
                       'Liam', 'Mia', 'Leon', 'Hannah', 'João', 'Mariana', 'Rafael', 'Lucía', 'Pablo',
                       'Ananya', 'Rohan', 'Chloé', 'Hugo', 'Yuki', 'Haruto', 'Grace', 'Oliver',
                       'Valentina', 'Mateo', 'Zoë', 'Felix'] AS names) AS f,
         (SELECT ARRAY['Smith', 'Müller', 'García', 'Silva', 'Sharma', 'Patel', 'Johnson', 'Schmidt',
                       'Fernández', 'Santos', 'Kumar', 'Brown', 'Martin', 'Bernard', 'Hernández',
                       'López', 'Tanaka', 'Sato', 'Wilson', 'Taylor', 'Weber', 'Oliveira', 'Gupta',
                       'Rodríguez', 'Pereira', 'Dubois', 'Walker', 'Nakamura', 'Fischer', 'Singh'] AS names) AS l
) AS n;

-- ---------------------------------------------------------------------------------------------
CREATE TABLE gold.orders (
    order_id    bigint        PRIMARY KEY,
    customer_id bigint        NOT NULL REFERENCES gold.customers (customer_id),
    ordered_at  timestamptz   NOT NULL,
    status      text          NOT NULL CHECK (status IN ('placed', 'shipped', 'delivered', 'cancelled', 'refunded')),
    amount      numeric(12,2) NOT NULL CHECK (amount >= 0),
    currency    char(3)       NOT NULL,
    items       int           NOT NULL CHECK (items > 0),
    channel     text          NOT NULL CHECK (channel IN ('web', 'mobile_app', 'marketplace', 'phone'))
);

COMMENT ON TABLE gold.orders IS
    'One row per order placed in the 90 days before 2026-11-30 00:00 UTC (5,000 rows); current status only, '
    'no status history. Loaded daily; order_id increases with ordered_at.';
COMMENT ON COLUMN gold.orders.order_id IS 'Order number; ascending in ordered_at order.';
COMMENT ON COLUMN gold.orders.customer_id IS 'Buyer (gold.customers). Never before the customer''s created_at. About 10% of customers have no order.';
COMMENT ON COLUMN gold.orders.ordered_at IS 'Checkout time (UTC).';
COMMENT ON COLUMN gold.orders.status IS
    'placed -> shipped -> delivered, or cancelled (before shipping, never charged) or refunded (after delivery, '
    'money returned). Orders older than a week are settled: delivered, cancelled or refunded.';
COMMENT ON COLUMN gold.orders.amount IS
    'Order total in the order''s currency, taxes included. NOT converted: do not sum across currencies.';
COMMENT ON COLUMN gold.orders.currency IS
    'ISO 4217 code, the customer''s billing currency (USD, EUR, GBP, BRL, INR, MXN, JPY); JPY amounts are whole yen.';
COMMENT ON COLUMN gold.orders.items IS 'Number of line items (units) in the order.';
COMMENT ON COLUMN gold.orders.channel IS 'Where the order was placed: web, mobile_app, marketplace or phone.';

INSERT INTO gold.orders (order_id, customer_id, ordered_at, status, amount, currency, items, channel)
SELECT
    row_number() OVER (ORDER BY o.ordered_at, o.j),
    o.customer_id, o.ordered_at, o.status, o.amount, o.currency, o.items, o.channel
FROM (
    SELECT
        j,
        c.customer_id,
        t.ordered_at,
        CASE
            WHEN t.age_days < 2 THEN
                CASE WHEN r.u_status < 0.60 THEN 'placed' WHEN r.u_status < 0.95 THEN 'shipped' ELSE 'cancelled' END
            WHEN t.age_days < 7 THEN
                CASE WHEN r.u_status < 0.10 THEN 'placed' WHEN r.u_status < 0.55 THEN 'shipped'
                     WHEN r.u_status < 0.93 THEN 'delivered' ELSE 'cancelled' END
            ELSE
                CASE WHEN r.u_status < 0.84 THEN 'delivered' WHEN r.u_status < 0.93 THEN 'cancelled' ELSE 'refunded' END
        END AS status,
        round((s.low + (s.high - s.low) * r.u_amount ^ 2)::numeric * m.fx,
              CASE WHEN m.currency = 'JPY' THEN 0 ELSE 2 END) AS amount,
        m.currency,
        s.min_items + floor(r.u_items * s.item_spread)::int AS items,
        CASE
            WHEN r.u_channel < 0.55 THEN 'web'
            WHEN r.u_channel < 0.85 THEN 'mobile_app'
            WHEN r.u_channel < 0.95 THEN 'marketplace'
            ELSE 'phone'
        END AS channel
    FROM generate_series(1, 5000) AS g(j)
    CROSS JOIN LATERAL (
        SELECT pg_temp.u('time', j)    AS u_time,
               pg_temp.u('status', j)  AS u_status,
               pg_temp.u('amount', j)  AS u_amount,
               pg_temp.u('items', j)   AS u_items,
               pg_temp.u('channel', j) AS u_channel,
               -- half the orders from anyone, half skewed towards low ids: a few heavy buyers
               CASE WHEN pg_temp.u('skew', j) < 0.5
                    THEN 1 + floor(2000 * pg_temp.u('buyer', j))::bigint
                    ELSE 1 + floor(2000 * pg_temp.u('buyer', j) ^ 1.5)::bigint
               END AS customer_id
    ) AS r
    JOIN gold.customers AS c ON c.customer_id = r.customer_id
    CROSS JOIN LATERAL (
        SELECT greatest(timestamptz '2026-11-30 00:00:00+00' - interval '90 days', c.created_at) AS window_start
    ) AS w
    CROSS JOIN LATERAL (
        SELECT date_trunc('second', w.window_start + (timestamptz '2026-11-30 00:00:00+00' - w.window_start) * r.u_time)
                   AS ordered_at
    ) AS t0
    CROSS JOIN LATERAL (
        SELECT t0.ordered_at,
               extract(epoch FROM timestamptz '2026-11-30 00:00:00+00' - t0.ordered_at) / 86400 AS age_days
    ) AS t
    CROSS JOIN LATERAL (
        SELECT CASE c.segment WHEN 'consumer' THEN 8 WHEN 'smb' THEN 40 ELSE 400 END         AS low,
               CASE c.segment WHEN 'consumer' THEN 250 WHEN 'smb' THEN 2500 ELSE 25000 END   AS high,
               CASE c.segment WHEN 'enterprise' THEN 5 ELSE 1 END                            AS min_items,
               CASE c.segment WHEN 'consumer' THEN 4 WHEN 'smb' THEN 12 ELSE 95 END          AS item_spread
    ) AS s
    CROSS JOIN LATERAL (
        SELECT cur.currency, cur.fx
        FROM (VALUES ('US', 'USD', 1.00), ('DE', 'EUR', 0.92), ('ES', 'EUR', 0.92), ('FR', 'EUR', 0.92),
                     ('GB', 'GBP', 0.79), ('BR', 'BRL', 5.00), ('IN', 'INR', 83.00), ('MX', 'MXN', 17.00),
                     ('JP', 'JPY', 150.00)) AS cur (country, currency, fx)
        WHERE cur.country = coalesce(c.country, 'US')
    ) AS m
) AS o;

CREATE INDEX orders_customer_id_idx ON gold.orders (customer_id);
CREATE INDEX orders_ordered_at_idx ON gold.orders (ordered_at);

-- ---------------------------------------------------------------------------------------------
CREATE TABLE gold.customer_features (
    customer_id           bigint           PRIMARY KEY REFERENCES gold.customers (customer_id),
    orders_30d            int              NOT NULL CHECK (orders_30d >= 0),
    spend_30d             numeric(12,2)    NOT NULL CHECK (spend_30d >= 0),
    avg_order_value       numeric(12,2),
    days_since_last_order int,
    churn_score           double precision NOT NULL CHECK (churn_score >= 0 AND churn_score <= 1),
    updated_at            timestamptz      NOT NULL
);

COMMENT ON TABLE gold.customer_features IS
    'One row per customer (2,000 rows), computed from gold.orders as of 2026-11-30 00:00 UTC by the nightly '
    'feature job; feeds the online feature store and the churn model. Money columns are in the customer''s '
    'currency (see gold.orders.currency).';
COMMENT ON COLUMN gold.customer_features.customer_id IS 'gold.customers.customer_id; every customer has a row, even with no orders.';
COMMENT ON COLUMN gold.customer_features.orders_30d IS 'Orders in the last 30 days, cancelled ones excluded; 0 if none.';
COMMENT ON COLUMN gold.customer_features.spend_30d IS 'Sum of amount over the last 30 days, cancelled and refunded orders excluded; 0 if none.';
COMMENT ON COLUMN gold.customer_features.avg_order_value IS
    'Mean amount over the 90-day history, cancelled and refunded orders excluded; NULL if no such order.';
COMMENT ON COLUMN gold.customer_features.days_since_last_order IS
    'Whole UTC days from the last order (any status) to 2026-11-30; NULL = no order in the 90-day history.';
COMMENT ON COLUMN gold.customer_features.churn_score IS
    'Probability (0..1) that the customer stops buying within 60 days; higher = more at risk. '
    'Above 0.7 is treated as high risk.';
COMMENT ON COLUMN gold.customer_features.updated_at IS 'When the feature job wrote the row (UTC).';

INSERT INTO gold.customer_features
    (customer_id, orders_30d, spend_30d, avg_order_value, days_since_last_order, churn_score, updated_at)
SELECT
    c.customer_id,
    coalesce(f.orders_30d, 0),
    coalesce(f.spend_30d, 0),
    f.avg_order_value,
    f.days_since_last_order,
    round((1 / (1 + exp(-(
          -2.2
        + 0.045 * coalesce(f.days_since_last_order, 120)
        - 0.35 * least(coalesce(f.orders_30d, 0), 6)
        + CASE WHEN c.is_active THEN 0 ELSE 2.5 END
        + CASE c.segment WHEN 'enterprise' THEN -0.8 WHEN 'smb' THEN -0.3 ELSE 0 END
        + (pg_temp.u('churn', c.customer_id) - 0.5)
    ))))::numeric, 4)::double precision,
    timestamptz '2026-11-30 02:00:00+00'
FROM gold.customers AS c
LEFT JOIN (
    SELECT
        customer_id,
        count(*) FILTER (WHERE ordered_at >= timestamptz '2026-11-30 00:00:00+00' - interval '30 days'
                           AND status <> 'cancelled') AS orders_30d,
        sum(amount) FILTER (WHERE ordered_at >= timestamptz '2026-11-30 00:00:00+00' - interval '30 days'
                              AND status NOT IN ('cancelled', 'refunded')) AS spend_30d,
        round(avg(amount) FILTER (WHERE status NOT IN ('cancelled', 'refunded')), 2) AS avg_order_value,
        date '2026-11-30' - max((ordered_at AT TIME ZONE 'UTC')::date) AS days_since_last_order
    FROM gold.orders
    GROUP BY customer_id
) AS f ON f.customer_id = c.customer_id;

COMMIT;

-- Row estimates for the planner and for tools that read pg_class.reltuples / pg_stats.
ANALYZE gold.customers;
ANALYZE gold.orders;
ANALYZE gold.customer_features;
