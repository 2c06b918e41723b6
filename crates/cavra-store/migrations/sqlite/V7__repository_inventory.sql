-- v8: the repository inventory of `cavra serve`: every repository that sent a decision,
-- the pack in force, hook health, and attempts of a project pack to loosen the floor
CREATE TABLE repositories (
    repo_id            TEXT PRIMARY KEY,
    path               TEXT NOT NULL,
    first_seen         INTEGER NOT NULL,
    last_seen          INTEGER NOT NULL,
    last_decision_at   INTEGER,
    decisions          INTEGER NOT NULL DEFAULT 0,
    offline_uploaded   INTEGER NOT NULL DEFAULT 0,
    last_upload_at     INTEGER,
    pack_id            TEXT,
    pack_digest        TEXT,
    client_version     TEXT,
    loosen_attempts    INTEGER NOT NULL DEFAULT 0,
    last_loosen_at     INTEGER,
    last_loosen_reason TEXT
);
CREATE TABLE repository_agents (
    repo_id    TEXT NOT NULL,
    agent      TEXT NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (repo_id, agent)
);
