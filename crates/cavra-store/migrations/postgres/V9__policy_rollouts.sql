-- v9: policy publishing with review (docs/rollout.md): pack versions drafted, reviewed,
-- signed and assigned to repositories (enforce or shadow), the append-only rollout
-- history, the shadow versions' verdicts beside the enforced ones, and repository labels
CREATE TABLE policy_versions (
    version_id   TEXT PRIMARY KEY,
    pack_id      TEXT NOT NULL,
    version      BIGINT NOT NULL,
    source_name  TEXT NOT NULL,
    source       TEXT NOT NULL,
    digest       TEXT NOT NULL,
    author       TEXT NOT NULL,
    state        TEXT NOT NULL,
    replay       TEXT,
    reviewed_by  TEXT,
    reviewed_at  BIGINT,
    review_reason TEXT,
    signed_pack  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (pack_id, version)
);
CREATE TABLE policy_assignments (
    seq BIGSERIAL PRIMARY KEY,
    version_id   TEXT NOT NULL,
    target_kind  TEXT NOT NULL,
    target       TEXT NOT NULL,
    mode         TEXT NOT NULL,
    shadow_until BIGINT,
    assigned_by  TEXT NOT NULL,
    assigned_at  BIGINT NOT NULL,
    ended_at     BIGINT
);
CREATE INDEX policy_assignments_open ON policy_assignments (ended_at, seq);
CREATE TABLE rollout_history (
    seq BIGSERIAL PRIMARY KEY,
    version_id   TEXT NOT NULL,
    step         TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           BIGINT NOT NULL,
    detail       TEXT NOT NULL,
    evidence_record TEXT
);
CREATE INDEX rollout_history_version ON rollout_history (version_id, seq);
CREATE TABLE policy_shadow_results (
    seq BIGSERIAL PRIMARY KEY,
    version_id   TEXT NOT NULL,
    repo_id      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    enforced     TEXT NOT NULL,
    enforced_rule TEXT NOT NULL,
    shadow       TEXT NOT NULL,
    shadow_rule  TEXT NOT NULL
);
CREATE INDEX policy_shadow_results_version ON policy_shadow_results (version_id, seq);
ALTER TABLE repositories ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
