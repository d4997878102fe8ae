"""`wayfare serve` stopped with SIGTERM (systemd, docker, kill): uvicorn shuts down and raises the signal again;
the server turns it into an exit that still closes the store, with the status of a process SIGTERM ended."""

from __future__ import annotations

import duckdb


def test_sigterm_runs_the_servers_own_shutdown(server_factory, tmp_path):
    srv = server_factory(tmp_path / "s.db").start()
    srv.stop()  # SIGTERM, then wait
    assert srv.proc.returncode == 143, srv.log.read_text()[-2000:]
    assert "Traceback" not in srv.log.read_text()
    # closed and checkpointed: another process opens the file for writing, and nothing is left in a WAL
    con = duckdb.connect(str(tmp_path / "s.db"))
    assert con.execute("SELECT count(*) FROM workspaces").fetchone()[0] >= 1
    con.close()
    wal = tmp_path / "s.db.wal"
    assert not wal.exists() or wal.stat().st_size == 0
