-- 007: saved segments, their current members and the history of who entered and left
CREATE TABLE analytics_segments (
    workspace_id VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    rule         VARCHAR NOT NULL,
    description  VARCHAR,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    refreshed_at TIMESTAMP,
    PRIMARY KEY (workspace_id, name)
);

CREATE TABLE analytics_segment_members (
    workspace_id VARCHAR NOT NULL,
    segment      VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    since        TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, segment, person_id)
);

CREATE TABLE analytics_segment_history (
    workspace_id VARCHAR NOT NULL,
    segment      VARCHAR NOT NULL,
    person_id    VARCHAR NOT NULL,
    change       VARCHAR NOT NULL,  -- entered | left
    changed_at   TIMESTAMP NOT NULL
);
