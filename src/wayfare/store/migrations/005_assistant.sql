-- 005: the assistant: knowledge-base passages, conversations, messages, hand-over tickets, settings
CREATE TABLE assistant_passages (
    workspace_id VARCHAR NOT NULL,
    passage_id   VARCHAR NOT NULL,
    source       VARCHAR NOT NULL,
    title        VARCHAR,
    body         VARCHAR NOT NULL,
    questions    JSON,
    audience     VARCHAR,
    loaded_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, passage_id)
);

CREATE TABLE assistant_settings (
    workspace_id    VARCHAR PRIMARY KEY,
    kb_path         VARCHAR,
    kb_fingerprint  VARCHAR,
    identity_secret VARCHAR,
    routes          JSON,
    updated_at      TIMESTAMP NOT NULL
);

-- status: bot (the assistant is answering), open (waiting for a person), assigned, closed
CREATE TABLE assistant_conversations (
    workspace_id    VARCHAR NOT NULL,
    conversation_id VARCHAR NOT NULL,
    visitor_id      VARCHAR,
    person_id       VARCHAR,
    status          VARCHAR NOT NULL,
    assignee        VARCHAR,
    topic           VARCHAR,
    subject         VARCHAR,
    low_confidence  INTEGER NOT NULL DEFAULT 0,
    email           VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL,
    closed_at       TIMESTAMP,
    csat            INTEGER,
    PRIMARY KEY (workspace_id, conversation_id)
);

-- role: customer, assistant, staff, note (internal, never shown to the customer), system
CREATE TABLE assistant_messages (
    workspace_id    VARCHAR NOT NULL,
    message_id      VARCHAR NOT NULL,
    conversation_id VARCHAR NOT NULL,
    n               INTEGER NOT NULL,
    role            VARCHAR NOT NULL,
    author          VARCHAR,
    body            VARCHAR NOT NULL,
    source          VARCHAR,
    confidence      DOUBLE,
    created_at      TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, message_id)
);

CREATE TABLE assistant_handovers (
    workspace_id    VARCHAR NOT NULL,
    ticket_id       VARCHAR NOT NULL,
    conversation_id VARCHAR NOT NULL,
    reason          VARCHAR NOT NULL,
    topic           VARCHAR,
    suggested_reply VARCHAR,
    created_at      TIMESTAMP NOT NULL,
    resolved_at     TIMESTAMP,
    PRIMARY KEY (workspace_id, ticket_id)
);
