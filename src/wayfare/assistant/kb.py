"""The knowledge base: Markdown pages split at their headings into passages, and CSV question/answer rows.

A passage is the unit the assistant answers with: a title (the heading path), the questions it answers
(its heading, or the CSV questions that share one answer: the knowledge base's own paraphrases), the
text, and where it came from (``file.md#Heading`` or ``faq.csv#question``). An optional audience marker
``<!-- audience: new -->`` / ``<!-- audience: regular -->`` in a section makes it a variant for that
kind of customer (personalised answers).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import ValidationError

__all__ = ["Passage", "load_dir", "load_markdown", "load_csv", "fingerprint", "bundled_kb", "MAX_FILE_BYTES"]

MAX_FILE_BYTES = 2_000_000
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_AUDIENCE = re.compile(r"<!--\s*audience:\s*([a-z_-]+)\s*-->", re.I)


@dataclass
class Passage:
    source: str
    title: str
    text: str
    questions: list[str] = field(default_factory=list)
    audience: str | None = None

    @property
    def passage_id(self) -> str:
        return hashlib.sha1(f"{self.source}\n{self.audience}".encode()).hexdigest()[:16]


def _clean(text: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_`]{1,3}", "", text)
    text = re.sub(r"^\s*[-+*]\s+", "- ", text, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def load_markdown(text: str, name: str) -> list[Passage]:
    """Split one Markdown page at its headings; each section with text becomes a passage."""
    out: list[Passage] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []
    page_title = Path(name).stem.replace("_", " ").replace("-", " ")

    def flush() -> None:
        raw = "\n".join(body)
        m = _AUDIENCE.search(raw)
        txt = _clean(raw)
        if not txt:
            return
        heads = [h for _, h in stack]
        title = " › ".join(heads) if heads else page_title
        last = heads[-1] if heads else page_title
        qs = [last] if heads else [page_title]
        out.append(Passage(f"{name}#{last}", title, txt, qs, m.group(1).lower() if m else None))

    in_code = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_code = not in_code
        m = None if in_code else _HEADING.match(line)
        if m:
            flush()
            body = []
            level = len(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, _clean(m.group(2))))
        else:
            body.append(line)
    flush()
    # a page title alone (# Title) followed by sections: sections inherit it in their title already
    return out


def load_csv(text: str, name: str) -> list[Passage]:
    """Rows of question,answer (header optional). Rows that share an answer become one passage."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return []
    head = [h.strip().lower() for h in rows[0]]
    qi, ai = 0, 1
    if "question" in head and "answer" in head:
        qi, ai = head.index("question"), head.index("answer")
        rows = rows[1:]
    by_answer: dict[str, Passage] = {}
    for n, r in enumerate(rows, 2):
        if len(r) <= max(qi, ai):
            if any(c.strip() for c in r):
                raise ValidationError("a row needs a question and an answer", where=f"{name}:{n}")
            continue
        q, a = r[qi].strip(), r[ai].strip()
        if not q or not a:
            continue
        p = by_answer.get(a)
        if p is None:
            by_answer[a] = Passage(f"{name}#{q}", q, a, [q])
        else:
            p.questions.append(q)
    return list(by_answer.values())


def load_dir(path: str | Path) -> list[Passage]:
    """Every .md/.markdown/.csv file under ``path`` (or the one file ``path`` names)."""
    root = Path(path)
    if not root.exists():
        raise ValidationError("no such file or folder", where=str(path))
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    out: list[Passage] = []
    for f in files:
        suffix = f.suffix.lower()
        if suffix not in (".md", ".markdown", ".csv", ".txt"):
            continue
        if f.stat().st_size > MAX_FILE_BYTES:
            raise ValidationError(f"file is larger than {MAX_FILE_BYTES} bytes", where=str(f))
        name = f.name if root.is_file() else f.relative_to(root).as_posix()
        text = f.read_text(encoding="utf-8", errors="replace")
        out.extend(load_csv(text, name) if suffix == ".csv" else load_markdown(text, name))
    return out


def fingerprint(path: str | Path) -> str:
    """Changes when any knowledge-base file under ``path`` is added, removed or edited."""
    root = Path(path)
    if not root.exists():
        return ""
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    h = hashlib.sha1()
    for f in files:
        if f.suffix.lower() in (".md", ".markdown", ".csv", ".txt"):
            st = f.stat()
            h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def bundled_kb(business: str = "restaurant") -> Path:
    """The demo knowledge base shipped with wayfare."""
    return Path(str(resources.files("wayfare.assistant") / "kb" / business))
