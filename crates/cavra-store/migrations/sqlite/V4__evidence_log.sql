-- v4: the twin of the PostgreSQL decision log tables. With SQLite the decision log is the
-- evidence file log of the CAVRA directory: these tables stay empty.
CREATE TABLE evidence_records (
    seq          INTEGER PRIMARY KEY,
    record_id    TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    ts           TEXT NOT NULL,
    key_id       TEXT NOT NULL,
    hash         TEXT NOT NULL,
    session_id   TEXT,
    agent_id     TEXT,
    action_type  TEXT,
    decision     TEXT,
    rule_id      TEXT,
    target       TEXT,
    decision_id  TEXT,
    line         TEXT NOT NULL
);
CREATE INDEX evidence_records_decision_id ON evidence_records (decision_id);
CREATE INDEX evidence_records_session ON evidence_records (session_id, seq);
CREATE TABLE evidence_head (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    next_seq         INTEGER NOT NULL,
    last_hash        TEXT NOT NULL,
    frontier         BLOB NOT NULL,
    checkpoint_size  INTEGER NOT NULL
);
INSERT INTO evidence_head (id, next_seq, last_hash, frontier, checkpoint_size)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', X'', 0);
CREATE TABLE evidence_checkpoints (
    tree_size  INTEGER PRIMARY KEY,
    key_id     TEXT NOT NULL,
    line       TEXT NOT NULL
);
CREATE TABLE evidence_keys (
    key_id         TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    public_key     TEXT,
    registered_at  INTEGER NOT NULL
);
