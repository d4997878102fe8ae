-- 008: the journey map as the owner edits it (YAML), personas (rule-defined, suggested, accepted),
-- and sentiment models trained on a business's own rated reviews
CREATE TABLE journey_maps (
    workspace_id VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    yaml         VARCHAR NOT NULL,
    updated_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

-- status: suggested (from `wayfare personas suggest`) or accepted; definition: cluster centre and scaling
CREATE TABLE journey_personas (
    workspace_id VARCHAR NOT NULL,
    name         VARCHAR NOT NULL,
    status       VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    definition   JSON,
    card         JSON,
    size         BIGINT,
    revenue      DOUBLE,
    created_at   TIMESTAMP NOT NULL,
    accepted_at  TIMESTAMP,
    PRIMARY KEY (workspace_id, name)
);

-- model: TF-IDF terms, idf and logistic-regression weights as JSON (never pickle)
CREATE TABLE sentiment_models (
    workspace_id  VARCHAR NOT NULL,
    model_id      VARCHAR NOT NULL,
    trained_at    TIMESTAMP NOT NULL,
    source        VARCHAR,
    text_column   VARCHAR,
    rating_column VARCHAR,
    rows_used     BIGINT,
    metrics       JSON,
    model         JSON NOT NULL,
    active        BOOLEAN NOT NULL,
    PRIMARY KEY (workspace_id, model_id)
);
