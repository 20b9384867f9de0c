-- 2: signed API clients (issue 16): the SHA-256 of each secret (the
-- signing key), the nonces of token requests (kept past the timestamp
-- window, then pruned) and the devices each client subscribed to.
CREATE TABLE api_clients (
    id BIGSERIAL PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    key_hash BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT
);
CREATE TABLE client_nonces (
    client BIGINT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
    nonce TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (client, nonce)
);
CREATE TABLE client_topics (
    client BIGINT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
    device_id TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (client, device_id)
);
