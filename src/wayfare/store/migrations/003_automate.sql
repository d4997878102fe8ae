-- 003: automations: flows, the trigger cursor, flow entries, the send log (exactly-once), approvals, tasks
CREATE TABLE flows (
    workspace_id VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    definition   JSON NOT NULL,
    enabled      BOOLEAN NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE flow_cursors (
    workspace_id VARCHAR NOT NULL,
    flow         VARCHAR NOT NULL,
    last_seq     BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, flow)
);

CREATE TABLE flow_entries (
    workspace_id  VARCHAR NOT NULL,
    entry_id      VARCHAR NOT NULL,   -- deterministic: flow + triggering message id
    flow          VARCHAR NOT NULL,
    person_id     VARCHAR NOT NULL,
    trigger_event VARCHAR,            -- message_id of the event that started it (why it happened)
    step          INTEGER NOT NULL,
    status        VARCHAR NOT NULL,   -- active, done, exited, failed
    wake_at       TIMESTAMP,
    entered_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, entry_id)
);

CREATE TABLE sends (
    workspace_id VARCHAR NOT NULL,
    flow         VARCHAR NOT NULL,
    entry_id     VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    channel      VARCHAR NOT NULL,
    address      VARCHAR,
    message_id   VARCHAR NOT NULL,   -- deterministic Message-ID
    status       VARCHAR NOT NULL,   -- intent, final (terminator on the wire), sent, uncertain, skipped, failed
    detail       VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, flow, entry_id, person_id, step)
);

CREATE TABLE approvals (
    workspace_id VARCHAR NOT NULL,
    approval_id  VARCHAR NOT NULL,
    flow         VARCHAR NOT NULL,
    entry_id     VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    step         INTEGER NOT NULL,
    status       VARCHAR NOT NULL,   -- pending, approved, rejected, expired
    payload      JSON,
    created_at   TIMESTAMP NOT NULL,
    decided_at   TIMESTAMP,
    PRIMARY KEY (workspace_id, approval_id)
);

CREATE TABLE tasks (
    workspace_id VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    flow         VARCHAR,
    entry_id     VARCHAR,
    person_id    VARCHAR,
    title        VARCHAR NOT NULL,
    due_at       TIMESTAMP,
    status       VARCHAR NOT NULL,   -- open, done
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, task_id)
)
