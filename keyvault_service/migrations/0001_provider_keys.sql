-- One envelope-encrypted provider key per tenant and provider.
-- The layout of ciphertext and wrapped_key is documented in
-- keyvault_service/envelope.py; the plaintext key is never stored.
CREATE TABLE provider_keys (
    id              uuid        PRIMARY KEY,
    tenant_id       text        NOT NULL,
    provider        text        NOT NULL,
    format_version  smallint    NOT NULL,
    ciphertext      bytea       NOT NULL,
    wrapped_key     text        NOT NULL,
    kek_provider    text        NOT NULL,
    kek_key_name    text        NOT NULL,
    kek_version     integer     NOT NULL CHECK (kek_version > 0),
    fingerprint     text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT provider_keys_tenant_provider UNIQUE (tenant_id, provider)
);

-- A rotation job looks for rows wrapped by an older KEK version.
CREATE INDEX provider_keys_kek_version
    ON provider_keys (kek_provider, kek_key_name, kek_version);
