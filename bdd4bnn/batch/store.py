"""The results store: one SQLite row per task, written transactionally as each finishes.

Statuses: ``ok``; ``unknown`` (a time or node limit); ``error`` (a deterministic failure, such
as bad input: kept); ``crashed`` (the worker died: an out-of-memory kill, a signal; retried by
the next run). ``--retry-failed`` reruns ``error`` and ``unknown`` tasks too. An ``ok`` row is
never replaced.

Runs sharing one database (two ``batch`` processes, or a Dask job beside a local one) split
the work through leases: a run claims a task (owner, host, pid, expiry) in the same database
before it starts it and drops the claim with the result, so no task is computed twice while
its claim lives; a claim whose owner died (same host, no such pid) or whose lease expired is
taken over.

Opening for reading (``results``, ``report``) never writes: the file is opened read-only (or
as immutable where a read-only folder keeps SQLite from its shared-memory file). A file that
is not a bdd4bnn results database, a corrupt one, or one that cannot be written is one line.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..errors import InputError, one_line

__all__ = ["ResultStore", "row_gist", "row_line", "ROW_HEADER", "STATUSES", "RETRIED"]

STATUSES = ("ok", "unknown", "error", "crashed")
RETRIED = ("crashed",)  # rerun by every run; --retry-failed adds error and unknown
SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    job TEXT, model TEXT, input TEXT, region TEXT, analysis TEXT, engine TEXT,
    status TEXT NOT NULL, answer TEXT, seconds REAL, peak_nodes INTEGER,
    tool_version TEXT, finished_at REAL
);
CREATE TABLE IF NOT EXISTS claims (
    key TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
    expires REAL NOT NULL
);
"""
COLUMNS = (
    "key",
    "job",
    "model",
    "input",
    "region",
    "analysis",
    "engine",
    "status",
    "answer",
    "seconds",
    "peak_nodes",
    "tool_version",
    "finished_at",
)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ResultStore:
    """A SQLite database of task results (WAL mode; the key is the primary key).

    ``readonly``: open an existing database for reading only (nothing is created or changed).
    """

    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
        try:
            if readonly:
                self.db = self._open_readonly()
            else:
                self.db = self._open_writable()
            self._check_schema()
            if not readonly:  # fail now, not after the first task: BEGIN IMMEDIATE writes
                self.db.execute("BEGIN IMMEDIATE")
                self.db.rollback()
        except sqlite3.Error as exc:
            self._fail(exc)

    def _open_writable(self, wait: float = 30.0) -> sqlite3.Connection:
        """Open (creating) for writing in WAL mode; switching the journal mode needs the file
        to itself, so a run starting while another opens or closes it retries."""
        deadline = time.monotonic() + wait
        while True:
            db = sqlite3.connect(self.path, timeout=wait)
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=FULL")
                db.executescript(SCHEMA)
                db.commit()
                return db
            except sqlite3.OperationalError as exc:
                db.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _open_readonly(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such results database")
        uri = self.path.resolve().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:  # a WAL file in a read-only folder
            return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30)

    def _check_schema(self) -> None:
        cols = [r[1] for r in self.db.execute("PRAGMA table_info(results)")]
        if not cols:
            raise InputError(f"{self.path}: not a bdd4bnn results database (no results table)")
        missing = [c for c in COLUMNS if c not in cols]
        if missing:
            raise InputError(
                f"{self.path}: not a bdd4bnn results database (column {missing[0]} missing)"
            )

    def _fail(self, exc: sqlite3.Error) -> None:
        msg = str(exc)
        if "readonly" in msg or "read-only" in msg:
            why = "it cannot be written (read-only file or folder)"
        elif "not a database" in msg or "malformed" in msg:
            why = "not an SQLite database, or a corrupt one"
        else:
            why = one_line(msg)
        raise InputError(f"{self.path}: {why}") from None

    def close(self) -> None:
        if not self.readonly:
            try:
                with self.db:
                    self.db.execute("DELETE FROM claims WHERE owner = ?", (self.owner,))
                # back to a rollback journal when no other run has it open, so that readers
                # (mode=ro) need no -wal / -shm files: they write nothing, even beside it
                self.db.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self, retry_failed: bool = False) -> set[str]:
        """Return the keys no run needs to compute again."""
        keep = ("ok",) if retry_failed else tuple(s for s in STATUSES if s not in RETRIED)
        marks = ", ".join("?" for _ in keep)
        try:
            cur = self.db.execute(f"SELECT key FROM results WHERE status IN ({marks})", keep)
            return {row[0] for row in cur}
        except sqlite3.Error as exc:
            self._fail(exc)
            raise  # pragma: no cover - _fail raises

    def claim(self, key: str, lease: float, retry_failed: bool = False) -> bool:
        """Claim a task for this run for ``lease`` seconds; False if it is done or another
        live run holds it."""
        now = time.time()
        host = socket.gethostname()
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                row = self.db.execute("SELECT status FROM results WHERE key = ?", (key,)).fetchone()
                if row is not None and (
                    row[0] == "ok" or (row[0] not in RETRIED and not retry_failed)
                ):
                    return False
                held = self.db.execute(
                    "SELECT owner, host, pid, expires FROM claims WHERE key = ?", (key,)
                ).fetchone()
                if held is not None and held[0] != self.owner and held[3] > now:
                    if held[1] != host or _pid_alive(int(held[2])):
                        return False
                self.db.execute(
                    "INSERT OR REPLACE INTO claims (key, owner, host, pid, expires) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (key, self.owner, host, os.getpid(), now + lease),
                )
            return True
        except sqlite3.Error as exc:
            self._fail(exc)
            raise  # pragma: no cover

    def release(self, key: str) -> None:
        """Drop this run's claim of ``key`` (a task it will not finish)."""
        with self.db:
            self.db.execute("DELETE FROM claims WHERE key = ? AND owner = ?", (key, self.owner))

    def add(self, row: dict[str, Any]) -> bool:
        """Store one finished task in its own transaction and drop its claim; an ``ok`` row
        already there stays (False), any other is replaced by the newer attempt."""
        values = dict(row, answer=json.dumps(row.get("answer")), finished_at=time.time())
        try:
            with self.db:
                cur = self.db.execute(
                    f"INSERT INTO results ({', '.join(COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in COLUMNS)}) "
                    "ON CONFLICT(key) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "key")
                    + " WHERE results.status != 'ok'",
                    [values.get(c) for c in COLUMNS],
                )
                self.db.execute(
                    "DELETE FROM claims WHERE key = ? AND owner = ?", (row["key"], self.owner)
                )
        except sqlite3.Error as exc:
            self._fail(exc)
        return cur.rowcount == 1

    def rows(self) -> list[dict[str, Any]]:
        """Return every stored row; fields of the wrong type in a damaged database are
        replaced (a malformed answer becomes an error answer saying so)."""
        try:
            cur = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM results ORDER BY finished_at")
            raw = cur.fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
        return [_clean(dict(zip(COLUMNS, values, strict=True))) for values in raw]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    for c in ("key", "job", "model", "input", "region", "analysis", "engine", "tool_version"):
        row[c] = "" if row[c] is None else str(row[c])
    if row["status"] not in STATUSES:
        row["status"] = "error"
    for c in ("seconds", "finished_at"):
        row[c] = row[c] if isinstance(row[c], (int, float)) else 0.0
    row["peak_nodes"] = row["peak_nodes"] if isinstance(row["peak_nodes"], int) else 0
    try:
        answer = json.loads(row["answer"]) if row["answer"] else {}
    except (TypeError, ValueError, RecursionError):
        answer = None
    if not isinstance(answer, dict):
        answer = {"error": "malformed stored answer"}
        row["status"] = "error"
    row["answer"] = answer
    return row


def row_gist(row: dict[str, Any]) -> str:
    """Return the answer of a results row in a few words (the reason when not "ok")."""
    a = row["answer"] or {}
    if row["status"] != "ok":
        return one_line(a.get("reason") or a.get("error") or "")
    expl = a.get("explanations")
    return {
        "count": f"adversarial={a.get('adversarial')}",
        "verify": f"robust={a.get('robust')}",
        "radius": f"radius={a.get('radius')}",
        "explain": f"explanation={expl[0] if isinstance(expl, list) and expl else None}",
        "faults": f"P(changed) in [{a.get('lo')}, {a.get('hi')}]",
    }.get(row["analysis"], "")


ROW_HEADER = (
    f"{'key':10}  {'status':7}  model  input  {'region':>8}  {'analysis':7}  "
    f"{'seconds':>10}  answer"
)


def row_line(row: dict[str, Any]) -> str:
    """Return a results row as one line of text (names escaped for the terminal)."""
    return one_line(
        f"{row['key'][:10]}  {row['status']:7}  {row['model']}  {row['input']}  "
        f"{row['region']:>8}  {row['analysis']:7}  {row['seconds']:8.3f} s  {row_gist(row)}",
        limit=2000,
    )
