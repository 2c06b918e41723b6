-- v6: the web console's sign-in sessions (`cavra serve` at `/`), shared by replicas. Only
-- the SHA-256 of a session's cookie is kept; `principal` is the signed-in person as the
-- server authenticated them (JSON), `token_id` the server token signed in with, if any.
CREATE TABLE console_sessions (
    session_id   TEXT PRIMARY KEY,
    secret_hash  TEXT NOT NULL UNIQUE,
    csrf_token   TEXT NOT NULL,
    principal    TEXT NOT NULL,
    token_id     TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ended_at     INTEGER
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
