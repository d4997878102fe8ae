-- 011: automated journeys: variants and wait state on entries, purpose/variant/trace on sends,
-- approvals with edits and deadlines, traced tasks, the automation log (every action and every skip or
-- deferral with why) and per-person trigger state (segment membership, score above/below a threshold)
ALTER TABLE flow_entries ADD COLUMN variant VARCHAR;
ALTER TABLE flow_entries ADD COLUMN since TIMESTAMP;
ALTER TABLE flow_entries ADD COLUMN wait_event VARCHAR;
ALTER TABLE flow_entries ADD COLUMN outcome VARCHAR;

ALTER TABLE sends ADD COLUMN purpose VARCHAR;
ALTER TABLE sends ADD COLUMN variant VARCHAR;
ALTER TABLE sends ADD COLUMN trigger_event VARCHAR;
ALTER TABLE sends ADD COLUMN body JSON;

ALTER TABLE approvals ADD COLUMN decided_by VARCHAR;
ALTER TABLE approvals ADD COLUMN due_at TIMESTAMP;
ALTER TABLE approvals ADD COLUMN on_timeout VARCHAR;

ALTER TABLE tasks ADD COLUMN step INTEGER;
ALTER TABLE tasks ADD COLUMN trigger_event VARCHAR;
ALTER TABLE tasks ADD COLUMN assignee VARCHAR;

CREATE TABLE automation_log (
    workspace_id  VARCHAR NOT NULL,
    logged_at     TIMESTAMP NOT NULL,
    flow          VARCHAR NOT NULL,
    entry_id      VARCHAR,
    person_id     VARCHAR,
    step          INTEGER,
    action        VARCHAR NOT NULL,   -- entered, email, sms, webhook, task, update, approval, goal, exit
    outcome       VARCHAR NOT NULL,   -- sent, skipped, deferred, failed, done, pending, approved, rejected
    reason        VARCHAR,
    trigger_event VARCHAR,            -- message_id of the event that started the entry
    variant       VARCHAR
);

CREATE TABLE flow_trigger_state (
    workspace_id VARCHAR NOT NULL,
    flow         VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    state        VARCHAR NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, flow, person_id)
);
