-- v1
CREATE TABLE approvals (
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
    requested_at    INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    decided_by      TEXT,
    decided_at      INTEGER,
    decision_reason TEXT,
    break_glass     INTEGER NOT NULL DEFAULT 0,
    break_glass_reason TEXT,
    single_use      INTEGER NOT NULL DEFAULT 1,
    uses            INTEGER NOT NULL DEFAULT 0,
    max_uses        INTEGER,
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
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
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
    position       INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE sessions (
    session_id     TEXT PRIMARY KEY,
    agent_id       TEXT NOT NULL,
    held           INTEGER NOT NULL DEFAULT 0,
    held_reason    TEXT,
    held_at        INTEGER,
    released_by    TEXT,
    released_at    INTEGER,
    release_reason TEXT,
    total_blocks   INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE TABLE session_blocks (
    session_id TEXT NOT NULL REFERENCES sessions(session_id),
    at         INTEGER NOT NULL,
    severity   TEXT NOT NULL,
    agent_id   TEXT NOT NULL
);
CREATE INDEX session_blocks_at ON session_blocks(session_id, at);
