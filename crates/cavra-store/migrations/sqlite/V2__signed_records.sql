-- v2: records signed by the approving identity; tamper events reported once per row
ALTER TABLE approvals ADD COLUMN attestation TEXT;
ALTER TABLE sessions ADD COLUMN release_attestation TEXT;
CREATE TABLE tamper_reports (
    row_key     TEXT PRIMARY KEY,
    reported_at INTEGER NOT NULL
);
