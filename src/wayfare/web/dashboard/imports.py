"""Import: upload a CSV, pick the preset of the tool it came from, see the preview and every error with
its line and column, then confirm. Nothing is written until the owner confirms, and a file with any
error writes nothing."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from ...errors import ImportRefused, NotFound, ValidationError
from ...ingest import PRESETS, run_import
from .base import Ctx, action, page

MAX_BYTES = 50 * 1024 * 1024
KEEP_SECONDS = 3600
_UPLOADS: dict[str, dict[str, Any]] = {}
_LOCK = threading.Lock()
_DIR = Path(tempfile.gettempdir()) / f"wayfare-uploads-{secrets.token_hex(4)}"


def _safe_name(name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name or "upload.csv").name).strip("._") or "upload.csv"
    return base[:80] if base.lower().endswith((".csv", ".csv.gz", ".tsv", ".txt")) else base[:76] + ".csv"


def _expire() -> None:
    now = time.time()
    with _LOCK:
        for tok in [t for t, u in _UPLOADS.items() if now - u["at"] > KEEP_SECONDS]:
            u = _UPLOADS.pop(tok)
            shutil.rmtree(Path(u["path"]).parent, ignore_errors=True)


def _get(ctx: Ctx, token: str) -> dict[str, Any]:
    _expire()
    u = _UPLOADS.get(token)
    if not u or u["user"] != ctx.session.user.user_id or u["workspace"] != ctx.session.workspace_id:
        raise NotFound("that upload has expired or is not yours; upload the file again")
    return u


@page("/import", "imports.html", "Import", nav="Import")
def imports(ctx: Ctx) -> dict:
    token = ctx.arg("upload")
    review = None
    if token:
        u = _get(ctx, token)
        review = {"token": token, "file": u["name"], "preset": u["preset"], "summary": u["summary"],
                  "errors": u["errors"], "message": u["message"]}
    history = ctx.scope.rows(
        "SELECT imported_at, file_name, preset, kind, rows, inserted FROM imports ORDER BY imported_at DESC LIMIT 20")
    return {"presets": [{"name": p.name, "kind": p.kind, "description": p.description} for p in PRESETS.values()],
            "review": review, "can_import": ctx.can("staff"),
            "history": [{"at": h[0], "file": h[1], "preset": h[2], "kind": h[3], "rows": h[4], "inserted": h[5]}
                        for h in history]}


@action("/import/upload", need="staff", files=True)
def upload(ctx: Ctx, form: Any) -> str:
    f = form.get("file")
    preset = str(form.get("preset") or "generic")
    if preset not in PRESETS:
        raise ValidationError(f"unknown preset; pick one of {', '.join(PRESETS)}", where="preset")
    kind = str(form.get("kind") or "") or None
    if kind not in (None, "events", "people"):
        raise ValidationError("the file holds events or people", where="kind")
    if preset != "generic":
        kind = None  # the preset knows what its tool exports
    if f is None or not getattr(f, "filename", None):
        raise ValidationError("choose a CSV file to upload", where="file")
    _expire()
    token = secrets.token_urlsafe(16)
    d = _DIR / token
    d.mkdir(parents=True, exist_ok=True)
    path = d / _safe_name(f.filename)
    size = 0
    with path.open("wb") as out:
        while chunk := f.file.read(1 << 20):
            size += len(chunk)
            if size > MAX_BYTES:
                out.close()
                shutil.rmtree(d, ignore_errors=True)
                raise ValidationError(f"the file is over {MAX_BYTES // 2**20} MB; split it or use `wayfare import`",
                                      where=f.filename)
            out.write(chunk)
    summary: dict[str, Any] | None = None
    errors: list[dict] = []
    message = None
    try:
        summary = run_import(ctx.scope, path, preset, kind=kind, dry_run=True)
    except ImportRefused as e:
        errors, message = e.errors, str(e)
    except ValidationError as e:
        message = str(e)
    with _LOCK:
        _UPLOADS[token] = {"path": str(path), "name": path.name, "preset": preset, "kind": kind, "summary": summary,
                           "errors": errors, "message": message, "user": ctx.session.user.user_id,
                           "workspace": ctx.session.workspace_id, "at": time.time()}
    return f"/import?upload={token}#review"


@action("/import/confirm", need="staff")
def confirm(ctx: Ctx, form: Any) -> str:
    token = str(form.get("upload") or "")
    u = _get(ctx, token)
    if u["errors"] or not u["summary"]:
        raise ValidationError("this file has problems; fix them and upload it again")
    res = run_import(ctx.scope, u["path"], u["preset"], kind=u["kind"])
    with _LOCK:
        _UPLOADS.pop(token, None)
    shutil.rmtree(Path(u["path"]).parent, ignore_errors=True)
    msg = (f"Imported {u['name']}: {res.get('inserted', 0):,} new rows"
           + (f", {res['duplicates']:,} already there" if res.get("duplicates") else "")
           + (f", {res['people_created']:,} new people" if res.get("people_created") else "") + ".")
    ctx.say(msg)
    return "/import"
