-- Rollback detection, key lifecycle, KEK registry, audit and tenant deletion.

-- The generation each (tenant, provider) key should be at. Saves, re-keys
-- and deletes take a new value from the sequence while holding this row's
-- lock; format 2 binds the value into the ciphertext's associated data, so a
-- row put back from an earlier save no longer opens. Rows kept from before
-- stay at generation 0 (format 1) until their next save.
CREATE SEQUENCE key_generation_seq;

CREATE TABLE key_generations (
    tenant_id   text   NOT NULL,
    provider    text   NOT NULL,
    generation  bigint NOT NULL,
    PRIMARY KEY (tenant_id, provider)
);

INSERT INTO key_generations (tenant_id, provider, generation)
    SELECT tenant_id, provider, 0 FROM provider_keys;

ALTER TABLE provider_keys
    ADD COLUMN generation        bigint      NOT NULL DEFAULT 0,
    ADD COLUMN status            text        NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'disabled', 'rejected_by_provider')),
    ADD COLUMN status_reason     text        NOT NULL DEFAULT '',
    ADD COLUMN status_changed_at timestamptz,
    ADD COLUMN expires_at        timestamptz,
    ADD COLUMN last_used_at      timestamptz;

CREATE INDEX provider_keys_expires_at
    ON provider_keys (expires_at) WHERE expires_at IS NOT NULL;

-- Every KEK this deployment has wrapped data keys with. A row naming a KEK
-- outside this list (and outside the per-tenant naming scheme) was edited.
CREATE TABLE kek_registry (
    kek_provider  text        NOT NULL,
    kek_key_name  text        NOT NULL,
    first_used_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kek_provider, kek_key_name)
);

INSERT INTO kek_registry (kek_provider, kek_key_name)
    SELECT DISTINCT kek_provider, kek_key_name FROM provider_keys;

-- What happened to keys, by whom; never key material. Append-only.
CREATE TABLE key_events (
    id           bigserial   PRIMARY KEY,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    event        text        NOT NULL,
    tenant_id    text        NOT NULL DEFAULT '',
    provider     text        NOT NULL DEFAULT '',
    caller       text        NOT NULL DEFAULT '',
    key_id       uuid,
    kek_provider text        NOT NULL DEFAULT '',
    kek_key_name text        NOT NULL DEFAULT '',
    kek_version  integer,
    detail       text        NOT NULL DEFAULT ''
);

CREATE INDEX key_events_tenant ON key_events (tenant_id, id);

CREATE FUNCTION key_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'key_events is append-only'
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER key_events_no_change
    BEFORE UPDATE OR DELETE ON key_events
    FOR EACH ROW EXECUTE FUNCTION key_events_append_only();

CREATE TRIGGER key_events_no_truncate
    BEFORE TRUNCATE ON key_events
    FOR EACH STATEMENT EXECUTE FUNCTION key_events_append_only();

-- Deleted tenants, and when their own KEK (if any) is destroyed.
CREATE TABLE tenant_deletions (
    tenant_id     text        PRIMARY KEY,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    shred_after   timestamptz NOT NULL,
    kek_provider  text        NOT NULL DEFAULT '',
    kek_key_name  text        NOT NULL DEFAULT '',
    shredded_at   timestamptz
);

CREATE INDEX tenant_deletions_due
    ON tenant_deletions (shred_after) WHERE shredded_at IS NULL;
