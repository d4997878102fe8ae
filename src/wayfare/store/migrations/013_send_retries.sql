-- 013: sends that heal themselves (issue 9): how many times a send was tried and when its first try failed,
-- so a transient failure waits with backoff (the entry sleeps) and gives up after a limit into the
-- dead-letter list (status 'failed', detail 'gave up after N attempts: ...')
ALTER TABLE sends ADD COLUMN attempts INTEGER DEFAULT 0;
ALTER TABLE sends ADD COLUMN first_failed_at TIMESTAMP;
