-- v3: API tokens of `cavra serve` (only the SHA-256 of a token is kept)
CREATE TABLE api_tokens (
    token_id    TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT,
    revoked_by  TEXT
);
