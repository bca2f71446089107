-- Generation's own tables: tenant policies, usage records, and the windows
-- and reservations that enforce tenants' limits. They live in their own
-- schema, so they can share a database with KeyVault without clashing.

CREATE TABLE generation.tenant_policies (
    tenant_id            text        PRIMARY KEY,
    -- NULL: the service default.
    platform_fallback    text        CHECK (platform_fallback IN ('auto', 'allowed', 'denied')),
    provider_order       text[]      NOT NULL DEFAULT '{}',
    requests_per_minute  bigint      CHECK (requests_per_minute >= 0),
    tokens_per_minute    bigint      CHECK (tokens_per_minute >= 0),
    spend_limit_usd      numeric(20, 9) CHECK (spend_limit_usd >= 0),
    spend_period         text        CHECK (spend_period IN ('day', 'month')),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- One row per tenant, meter and window: what finished calls used, and what
-- calls still running have reserved. A reservation is only granted while
-- used + reserved stays within the limit.
CREATE TABLE generation.limit_windows (
    tenant_id     text           NOT NULL,
    meter         text           NOT NULL CHECK (meter IN ('requests', 'tokens', 'spend')),
    window_start  timestamptz    NOT NULL,
    used          numeric(20, 9) NOT NULL DEFAULT 0 CHECK (used >= 0),
    reserved      numeric(20, 9) NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (tenant_id, meter, window_start)
);

-- Reservations not settled yet. A replica that stopped mid-request leaves
-- its rows here; they are released once expired.
CREATE TABLE generation.reservations (
    id          uuid        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    -- [{"meter": ..., "window_start": ..., "amount": ...}, ...]
    amounts     jsonb       NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX reservations_tenant_expiry ON generation.reservations (tenant_id, expires_at);

-- One row per provider call.
CREATE TABLE generation.usage_records (
    id                   bigserial      PRIMARY KEY,
    recorded_at          timestamptz    NOT NULL DEFAULT now(),
    request_id           text           NOT NULL,
    tenant_id            text           NOT NULL,
    variant_index        integer        NOT NULL,
    provider             text           NOT NULL,
    model                text           NOT NULL,
    key_source           text           NOT NULL CHECK (key_source IN ('tenant', 'platform')),
    -- The last four characters of the key, never more.
    key_fingerprint      text           NOT NULL CHECK (length(key_fingerprint) <= 4),
    status               text           NOT NULL CHECK (status IN ('completed', 'failed', 'cancelled')),
    outcome              text           NOT NULL,
    input_tokens         integer        NOT NULL CHECK (input_tokens >= 0),
    output_tokens        integer        NOT NULL CHECK (output_tokens >= 0),
    cached_input_tokens  integer        NOT NULL CHECK (cached_input_tokens >= 0),
    usage_estimated      boolean        NOT NULL,
    cost_usd             numeric(20, 9) NOT NULL CHECK (cost_usd >= 0),
    cost_estimated       boolean        NOT NULL
);
CREATE INDEX usage_records_tenant_time ON generation.usage_records (tenant_id, recorded_at);
