-- v5: the MCP proxy's pinned tool definitions, per server (`cavra mcp proxy`). `digest`
-- covers name, description, input schema and annotations; `body_digest` the same without
-- the name (the same definition under a new name). `state`: approved (listed), pending (a
-- new or changed definition withheld until a person approves `approval_id`), quarantined
-- (the description shows poisoning signs; `reason` says which).
CREATE TABLE mcp_tool_pins (
    server_id    TEXT NOT NULL,
    tool_name    TEXT NOT NULL,
    digest       TEXT NOT NULL,
    body_digest  TEXT NOT NULL,
    state        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    approval_id  TEXT,
    pinned       TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (server_id, tool_name)
);
