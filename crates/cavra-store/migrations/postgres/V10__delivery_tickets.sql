-- v11: the ticket a Jira / ServiceNow connector opened (the issue key, the record's
-- sys_id), kept on the delivery that opened it and on the one that closed it, so that the
-- approval's outcome closes the ticket, after a restart or on another replica too
ALTER TABLE connector_deliveries ADD COLUMN ticket TEXT;
CREATE INDEX connector_deliveries_ticket ON connector_deliveries (connector, approval_id);
