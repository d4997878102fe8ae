-- 004: dashboard accounts. A person signs in with an email and a password (argon2id hash only);
-- web_users.workspace_id is the workspace the account was created in, web_members says which
-- workspaces (one or more) the account may open and with which role (owner, staff, viewer).
-- Named web_* so that the words "users" and "sessions" stay free for analytics queries.
CREATE TABLE web_users (
    workspace_id   VARCHAR NOT NULL,
    user_id        VARCHAR PRIMARY KEY,
    email          VARCHAR NOT NULL UNIQUE,
    password_hash  VARCHAR NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    last_login_at  TIMESTAMP,
    disabled       BOOLEAN NOT NULL DEFAULT false
);

CREATE TABLE web_members (
    workspace_id VARCHAR NOT NULL,
    user_id      VARCHAR NOT NULL,
    role         VARCHAR NOT NULL,   -- owner, staff, viewer
    added_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);

-- The cookie holds a random token; only its SHA-256 is stored. workspace_id is the workspace the
-- session is looking at (the switcher changes it).
CREATE TABLE web_sessions (
    workspace_id  VARCHAR NOT NULL,
    session_hash  VARCHAR PRIMARY KEY,
    user_id       VARCHAR NOT NULL,
    csrf_token    VARCHAR NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    user_agent    VARCHAR
);
