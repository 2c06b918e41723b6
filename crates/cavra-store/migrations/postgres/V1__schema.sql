-- v1
CREATE TABLE approvals (
    seq             BIGSERIAL NOT NULL UNIQUE,
    approval_id     TEXT PRIMARY KEY,
    request_hash    TEXT NOT NULL,
    decision_id     TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    correlation_id  TEXT,
    agent_id        TEXT NOT NULL,
    action_type     TEXT NOT NULL,
    target          TEXT NOT NULL,
    rule_id         TEXT NOT NULL,
    severity        TEXT NOT NULL,
    approver_group  TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    repo            TEXT,
    state           TEXT NOT NULL,
    requested_at    BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    decided_by      TEXT,
    decided_at      BIGINT,
    decision_reason TEXT,
    break_glass     BOOLEAN NOT NULL DEFAULT FALSE,
    break_glass_reason TEXT,
    single_use      BOOLEAN NOT NULL DEFAULT TRUE,
    uses            BIGINT NOT NULL DEFAULT 0,
    max_uses        BIGINT,
    history         TEXT NOT NULL DEFAULT '[]',
    evidence_refs   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX approvals_hash ON approvals(request_hash, state);
CREATE INDEX approvals_state ON approvals(state, expires_at);

CREATE TABLE agents (
    agent_id   TEXT PRIMARY KEY,
    vendor     TEXT,
    kind       TEXT,
    owner      TEXT,
    risk_tier  TEXT,
    profile    TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE mcp_servers (
    server_id      TEXT PRIMARY KEY,
    name           TEXT,
    trust_tier     TEXT NOT NULL,
    approval_state TEXT NOT NULL,
    capabilities   TEXT NOT NULL DEFAULT '[]',
    allowed_tools  TEXT NOT NULL DEFAULT '[]',
    tool_classes   TEXT NOT NULL DEFAULT '{}',
    extra          TEXT NOT NULL DEFAULT '{}',
    position       BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE sessions (
    session_id     TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL,
    held           BOOLEAN NOT NULL DEFAULT FALSE,
    held_reason    TEXT,
    held_at        BIGINT,
    released_by    TEXT,
    released_at    BIGINT,
    release_reason TEXT,
    total_blocks   BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE TABLE session_blocks (
    seq        BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    at         BIGINT NOT NULL,
    severity   TEXT NOT NULL,
    agent_id   TEXT NOT NULL
);
CREATE INDEX session_blocks_at ON session_blocks(session_id, at);
