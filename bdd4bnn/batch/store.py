"""The results store: one SQLite row per task, written transactionally as each finishes."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

__all__ = ["ResultStore", "row_gist", "row_line", "ROW_HEADER"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    job TEXT, model TEXT, input TEXT, region TEXT, analysis TEXT, engine TEXT,
    status TEXT NOT NULL, answer TEXT, seconds REAL, peak_nodes INTEGER,
    tool_version TEXT, finished_at REAL
)
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


class ResultStore:
    """A SQLite database of task results (WAL mode; the key is the primary key)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done_keys(self) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT key FROM results")}

    def add(self, row: dict[str, Any]) -> bool:
        """Insert one finished task in its own transaction; False if the key was there."""
        values = dict(row, answer=json.dumps(row.get("answer")), finished_at=time.time())
        with self.db:
            cur = self.db.execute(
                f"INSERT OR IGNORE INTO results ({', '.join(COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in COLUMNS)})",
                [values.get(c) for c in COLUMNS],
            )
        return cur.rowcount == 1

    def rows(self) -> list[dict[str, Any]]:
        cur = self.db.execute(f"SELECT {', '.join(COLUMNS)} FROM results ORDER BY finished_at")
        out = []
        for values in cur:
            row = dict(zip(COLUMNS, values, strict=True))
            row["answer"] = json.loads(row["answer"]) if row["answer"] else None
            out.append(row)
        return out


def row_gist(row: dict[str, Any]) -> str:
    """Return the answer of a results row in a few words (the reason when not "ok")."""
    a = row["answer"] or {}
    if row["status"] != "ok":
        return str(a.get("reason") or a.get("error") or "")
    return {
        "count": f"adversarial={a.get('adversarial')}",
        "verify": f"robust={a.get('robust')}",
        "radius": f"radius={a.get('radius')}",
        "explain": f"explanation={(a.get('explanations') or [None])[0]}",
    }.get(row["analysis"], "")


ROW_HEADER = (
    f"{'key':10}  {'status':7}  model  input  {'region':>8}  {'analysis':7}  "
    f"{'seconds':>10}  answer"
)


def row_line(row: dict[str, Any]) -> str:
    """Return a results row as one line of text."""
    return (
        f"{row['key'][:10]}  {row['status']:7}  {row['model']}  {row['input']}  "
        f"{row['region']:>8}  {row['analysis']:7}  {row['seconds']:8.3f} s  {row_gist(row)}"
    )
