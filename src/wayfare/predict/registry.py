"""Saved models: kind, training date, data window, parameters and metrics, so any score can be traced."""

from __future__ import annotations

import datetime as dt
import uuid

import orjson


def save_model(scope, kind: str, params: dict, metrics: dict, data_from=None, data_to=None) -> str:
    model_id = f"m_{uuid.uuid4().hex[:16]}"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    scope.write("INSERT INTO main.predict_models VALUES ($__ws, $id, $k, $at, $f, $t, $p, $m)",
                {"id": model_id, "k": kind, "at": now, "f": data_from, "t": data_to,
                 "p": orjson.dumps(params).decode(), "m": orjson.dumps(metrics).decode()})
    return model_id


def list_models(scope, kind: str | None = None) -> list[dict]:
    df = scope.df("SELECT model_id, kind, trained_at, data_from, data_to, CAST(params AS VARCHAR) AS params, "
                  "CAST(metrics AS VARCHAR) AS metrics FROM predict_models "
                  "WHERE $k IS NULL OR kind = $k ORDER BY trained_at DESC", {"k": kind})
    out = df.to_dict(orient="records")
    for r in out:
        r["params"], r["metrics"] = orjson.loads(r["params"]), orjson.loads(r["metrics"])
    return out
