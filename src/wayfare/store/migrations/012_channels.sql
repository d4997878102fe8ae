-- 012: channels: provider messages (SMS sids, SMTP queue ids) tied to the send that made them, every
-- delivery report / bounce / complaint / open / click / unsubscribe received, and double opt-in requests
CREATE TABLE channel_messages (
    workspace_id VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,   -- email, sms, webhook
    provider_id  VARCHAR NOT NULL,   -- Twilio MessageSid, SMTP Message-ID
    send_id      VARCHAR,            -- the idempotency key of the send (flow:entry:person:step)
    person_id    VARCHAR,
    flow         VARCHAR,
    step         INTEGER,
    variant      VARCHAR,
    status       VARCHAR NOT NULL,   -- accepted, queued, sent, delivered, failed, bounced, complained
    detail       VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, channel, provider_id)
);

CREATE TABLE channel_events (
    workspace_id VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    provider_id  VARCHAR,
    kind         VARCHAR NOT NULL,   -- delivered, failed, hard_bounce, soft_bounce, complaint, auto_reply, open, click, unsubscribe
    detail       JSON,
    received_at  TIMESTAMP NOT NULL
);

CREATE TABLE optins (
    workspace_id VARCHAR NOT NULL,
    optin_id     VARCHAR NOT NULL,   -- random, the confirm link carries an HMAC of it
    person_id    VARCHAR NOT NULL,
    channel      VARCHAR NOT NULL,
    purpose      VARCHAR NOT NULL,
    source       VARCHAR,
    wording      VARCHAR NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    PRIMARY KEY (workspace_id, optin_id)
);
