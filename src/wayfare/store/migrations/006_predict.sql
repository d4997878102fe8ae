-- 006: saved prediction models: what was fitted, on which data window, with which figures
CREATE TABLE predict_models (
    workspace_id VARCHAR NOT NULL,
    model_id     VARCHAR NOT NULL,
    kind         VARCHAR NOT NULL,
    trained_at   TIMESTAMP NOT NULL,
    data_from    TIMESTAMP,
    data_to      TIMESTAMP,
    params       JSON,
    metrics      JSON,
    PRIMARY KEY (workspace_id, model_id)
);
