-- 009: retention periods per data kind (days; a kind without a row is kept)
CREATE TABLE privacy_retention (
    workspace_id VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,   -- events, page_views, imports, audit_log, assistant_messages, ...
    days         INTEGER NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, kind)
);
