-- 001: workspaces, keys, events, people and identities
CREATE TABLE workspaces (
    id          VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL UNIQUE,
    settings    JSON,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE api_keys (
    workspace_id VARCHAR NOT NULL,
    key_id       VARCHAR PRIMARY KEY,
    key_hash     VARCHAR NOT NULL UNIQUE,
    scope        VARCHAR NOT NULL,
    label        VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    revoked_at   TIMESTAMP
);

CREATE SEQUENCE event_seq START 1;

-- One row per Segment-shaped message. Timestamps are UTC.
CREATE TABLE events (
    workspace_id VARCHAR NOT NULL,
    message_id   VARCHAR NOT NULL,
    seq          BIGINT NOT NULL,
    type         VARCHAR NOT NULL,
    event        VARCHAR,
    anonymous_id VARCHAR,
    user_id      VARCHAR,
    person_id    VARCHAR,
    ts           TIMESTAMP NOT NULL,
    received_at  TIMESTAMP NOT NULL,
    channel      VARCHAR,
    source       VARCHAR,
    revenue      DOUBLE,
    properties   JSON,
    context      JSON,
    traits       JSON,
    PRIMARY KEY (workspace_id, message_id)
);

CREATE TABLE profiles (
    workspace_id VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    first_seen   TIMESTAMP,
    last_seen    TIMESTAMP,
    traits       JSON,
    PRIMARY KEY (workspace_id, person_id)
);

-- kind: user_id, anonymous_id, email, phone, or a source's own customer id (e.g. shopify_customer)
CREATE TABLE identities (
    workspace_id VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    value        VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    first_seen   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, kind, value)
);

CREATE TABLE merges (
    workspace_id VARCHAR NOT NULL,
    merged_at    TIMESTAMP NOT NULL,
    from_person  VARCHAR NOT NULL,
    into_person  VARCHAR NOT NULL,
    reason       VARCHAR
);

CREATE TABLE imports (
    workspace_id VARCHAR NOT NULL,
    file_sha256  VARCHAR NOT NULL,
    file_name    VARCHAR,
    preset       VARCHAR,
    kind         VARCHAR,
    rows         BIGINT,
    inserted     BIGINT,
    imported_at  TIMESTAMP NOT NULL
);
