"""Run ``wayfare`` commands from doc examples inside the test process.

On this 2-core machine a fresh ``wayfare`` process spends seconds importing before it does anything, and the
docs hold about a hundred commands. The shell examples therefore run in a real bash, where ``wayfare`` is a
tiny client (standard library only) that hands its argv, working directory and ``WAYFARE_*`` environment over a
Unix socket to this process, which runs ``wayfare.cli.main`` exactly as the console script does (same error
handling and exit codes) and sends back stdout, stderr and the exit status. ``tests/cli`` covers the real
console script in subprocesses.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import socketserver
import sys
import threading
from pathlib import Path

CLIENT = r'''
import json, os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["WAYFARE_DOCS_SOCKET"])
env = {k: v for k, v in os.environ.items() if k.startswith("WAYFARE_") and k != "WAYFARE_DOCS_SOCKET"}
s.sendall(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "env": env}).encode() + b"\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
r = json.loads(data)
sys.stdout.write(r["stdout"]); sys.stderr.write(r["stderr"])
sys.exit(r["code"])
'''

_lock = threading.Lock()


def run_cli(argv: list[str], cwd: str, env: dict[str, str]) -> dict:
    """``wayfare ARGV`` in this process, as the console script runs it."""
    from wayfare.cli import _common, main
    from wayfare.store import default_db_path

    with _lock:
        old_cwd, old_argv = os.getcwd(), sys.argv
        saved = {k: v for k, v in os.environ.items() if k.startswith("WAYFARE_") and k != "WAYFARE_DOCS_SOCKET"}
        out, err = io.StringIO(), io.StringIO()
        code = 0
        try:
            for k in saved:
                os.environ.pop(k, None)
            os.environ.update(env)
            os.chdir(cwd)
            _common.CTX.db, _common.CTX.json, _common.CTX._store = default_db_path(), False, None
            sys.argv = ["wayfare", *argv]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main()
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                except Exception as e:  # noqa: BLE001 - an uncaught error is a failing example, with its trace
                    import traceback

                    traceback.print_exc()
                    code = 1
                    _ = e
                finally:
                    _common.close_store()
        finally:
            sys.argv = old_argv
            os.chdir(old_cwd)
            for k in env:
                os.environ.pop(k, None)
            os.environ.update(saved)
        return {"stdout": out.getvalue(), "stderr": err.getvalue(), "code": code}


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        req = json.loads(self.rfile.readline())
        res = run_cli(req["argv"], req["cwd"], req["env"])
        self.wfile.write(json.dumps(res).encode())


class CliHost:
    """A Unix-socket server and a ``bin/wayfare`` client in ``folder``; ``env()`` is what bash needs."""

    def __init__(self, folder: Path) -> None:
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.sock = str(folder / "cli.sock")
        client = self.bin / "wayfare"
        client.write_text(f"#!{sys.executable} -IS\n{CLIENT}", encoding="utf-8")
        client.chmod(0o755)
        self.server = socketserver.UnixStreamServer(self.sock, _Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> CliHost:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        return {"PATH": f"{self.bin}{os.pathsep}{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
                "WAYFARE_DOCS_SOCKET": self.sock}
