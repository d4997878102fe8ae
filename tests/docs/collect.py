"""Pull the code examples out of ``docs/**/*.md``.

A fenced ``bash`` block runs when the line before it is ``<!-- runnable -->`` (blocks that start servers or need
credentials are left unmarked and are only shown). Every ``python`` block runs, unless the line before it is
``<!-- requires: spark -->`` and no Java runtime is present, or ``<!-- not run: REASON -->`` (code for a
cluster; kept rare, and the reason is on the page's source). In a runnable shell block, a line ``! command``
asserts that the command fails (bash alone would ignore its status).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"

_FENCE = re.compile(r"^(\s*)```\s*([A-Za-z0-9_+-]*)\s*(\{[^}]*\})?\s*$")
_MARK = re.compile(r"^\s*<!--\s*(runnable|requires:\s*[a-z]+|not run:[^>]*)\s*-->\s*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    runnable: bool
    requires: str | None = None

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(2).lower(), i
        mark = None
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (mm := _MARK.match(lines[j])):
            mark = mm.group(1)
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        i += 1
        requires = mark.split(":", 1)[1].strip() if mark and mark.startswith("requires") else None
        shown_only = bool(mark and mark.startswith("not run"))
        runnable = (lang == "python" and not shown_only) or (lang in ("bash", "sh", "shell") and mark == "runnable")
        out.append(Block(path.relative_to(DOCS).as_posix(), start + 1, lang, "\n".join(body) + "\n", runnable, requires))
    return out


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if any(b.runnable for b in blocks(p)))


def shell_script(code: str) -> str:
    """The block as a bash script: stop at the first failure; ``! cmd`` must fail."""
    out = ["set -euo pipefail"]
    in_heredoc: str | None = None
    for n, ln in enumerate(code.splitlines(), 1):
        if in_heredoc is not None:
            out.append(ln)
            if ln.strip() == in_heredoc:
                in_heredoc = None
            continue
        if m := re.search(r"<<-?\s*'?([A-Za-z_]+)'?", ln):
            in_heredoc = m.group(1)
        if ln.startswith("! "):
            out.append(f"if {ln[2:]}; then echo \"expected a failure from line {n} of the block\" >&2; exit 97; fi")
        else:
            out.append(ln)
    return "\n".join(out) + "\n"
