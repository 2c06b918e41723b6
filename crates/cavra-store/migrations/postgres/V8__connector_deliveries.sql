-- v8: one row per finished connector delivery of `cavra serve` (delivered or dead-lettered):
-- the target's host only, never its URL (a webhook URL may carry a token) or a secret
CREATE TABLE connector_deliveries (
    id           BIGSERIAL PRIMARY KEY,
    delivery_id  TEXT NOT NULL,
    connector    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    target_host  TEXT NOT NULL,
    record_id    TEXT NOT NULL,
    record_kind  TEXT NOT NULL,
    approval_id  TEXT,
    attempts     BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    last_error   TEXT,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT NOT NULL
);
CREATE INDEX connector_deliveries_finished ON connector_deliveries (finished_at);
