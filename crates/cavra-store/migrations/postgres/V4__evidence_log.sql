-- v4: the decision log of `cavra serve` replicas on PostgreSQL (src/pg/evidence.rs). The
-- records are the evidence file log's: `line` is the exact canonical record line, hashed,
-- chained and signed in `seq` order; the other columns are copies for lookups.
CREATE TABLE evidence_records (
    seq          BIGINT PRIMARY KEY,
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
-- the head of the chain: the next seq, the last hash and the Merkle frontier (32-byte
-- nodes, concatenated); each batch locks this row
CREATE TABLE evidence_head (
    id               SMALLINT PRIMARY KEY CHECK (id = 1),
    next_seq         BIGINT NOT NULL,
    last_hash        TEXT NOT NULL,
    frontier         BYTEA NOT NULL,
    checkpoint_size  BIGINT NOT NULL
);
INSERT INTO evidence_head (id, next_seq, last_hash, frontier, checkpoint_size)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '', 0);
-- signed Merkle tree heads (the canonical line of a `Checkpoint`)
CREATE TABLE evidence_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    line       TEXT NOT NULL
);
-- the signing keys the writers used (public halves), for an export's `signers.json`
CREATE TABLE evidence_keys (
    key_id         TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    public_key     TEXT,
    registered_at  BIGINT NOT NULL
);
