-- v10: hook health in the repository inventory: how many offline decisions the hook that
-- last called from the repository said were waiting in its queue (`X-Cavra-Queued`), and when
ALTER TABLE repositories ADD COLUMN offline_queued BIGINT;
ALTER TABLE repositories ADD COLUMN queued_reported_at BIGINT;
