-- 010: growth loops: lead scores, staff and lead tasks, referral codes and attributions, content slots
CREATE TABLE growth_lead_scores (
    workspace_id VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    points       DOUBLE NOT NULL,
    probability  DOUBLE,
    stage        VARCHAR NOT NULL,
    reasons      JSON,
    scored_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, person_id)
);

CREATE TABLE growth_staff (
    workspace_id VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    email        VARCHAR,
    topics       VARCHAR[],
    territories  VARCHAR[],
    active       BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE growth_tasks (
    workspace_id VARCHAR NOT NULL,
    task_id      VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    assignee     VARCHAR NOT NULL,
    rule         VARCHAR NOT NULL,
    reason       VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    due_at       TIMESTAMP NOT NULL,
    status       VARCHAR NOT NULL DEFAULT 'open',
    PRIMARY KEY (workspace_id, task_id)
);

CREATE TABLE growth_referral_codes (
    workspace_id VARCHAR NOT NULL,
    code         VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE growth_referrals (
    workspace_id VARCHAR NOT NULL,
    code         VARCHAR NOT NULL,
    referrer_id  VARCHAR NOT NULL,
    referred_id  VARCHAR NOT NULL,
    channel      VARCHAR,
    attributed_at TIMESTAMP NOT NULL,
    converted_at TIMESTAMP,
    revenue      DOUBLE,
    PRIMARY KEY (workspace_id, referred_id)
);

CREATE TABLE growth_slots (
    workspace_id VARCHAR NOT NULL,
    slot         VARCHAR NOT NULL,
    audience     VARCHAR NOT NULL,
    content      JSON NOT NULL,
    priority     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, slot, audience)
);

-- per-workspace secret for verifying user ids sent by a site (user_hash = HMAC-SHA256(secret, user_id))
CREATE TABLE growth_secrets (
    workspace_id VARCHAR NOT NULL PRIMARY KEY,
    secret       VARCHAR NOT NULL,
    created_at   TIMESTAMP NOT NULL
)
