-- Frozen copy of the schema migration v2 as written by cavra before the migration tool
-- (crates/cavra-store/src/db.rs MIGRATIONS). Do not edit: upgrade tests open files built
-- from it.
    ALTER TABLE approvals ADD COLUMN attestation TEXT;
    ALTER TABLE sessions ADD COLUMN release_attestation TEXT;
    CREATE TABLE tamper_reports (
        row_key     TEXT PRIMARY KEY,
        reported_at INTEGER NOT NULL
    );
    
