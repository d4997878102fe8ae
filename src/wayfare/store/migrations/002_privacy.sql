-- 002: consent records, the suppression list (salted hashes only) and the audit log
CREATE TABLE consents (
    workspace_id VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,   -- email, sms, push, ...
    purpose      VARCHAR NOT NULL,   -- marketing, transactional, ...
    status       VARCHAR NOT NULL,   -- granted, withdrawn, pending (double opt-in not yet confirmed)
    source       VARCHAR,            -- where it was given: import:mailchimp, web form, till ...
    wording      VARCHAR,            -- the text the person agreed to
    recorded_at  TIMESTAMP NOT NULL
);

CREATE TABLE suppressions (
    workspace_id VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,   -- email, sms, any
    address_hash VARCHAR NOT NULL,   -- salted SHA-256 of the normalised address, never the address
    reason       VARCHAR NOT NULL,   -- unsubscribe, bounce, complaint, erased, manual
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, channel, address_hash)
);

CREATE TABLE audit_log (
    workspace_id VARCHAR NOT NULL,
    logged_at    TIMESTAMP NOT NULL,
    actor        VARCHAR NOT NULL,
    action       VARCHAR NOT NULL,
    subject      VARCHAR,
    detail       JSON
);
