"""The run's journal: an SQLite database in the output folder, written by one process only (the driver).

A run is identified by its configuration digest; its rows are keyed by (run, image path) and a
chunk of rows is committed in one transaction, so a run killed at any moment holds whole chunks
only, and a rerun computes exactly what is missing. Raw maps (zlib-compressed float32) and overlay
thumbnails are kept beside the rows, so the reports can be made again without recomputing.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from camviewer import errors
from camviewer.batch.records import WORKER_CRASHED, ImageRecord, failed
from camviewer.batch.work import Outcome

JOURNAL_NAME = "journal.sqlite"
SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE, config TEXT NOT NULL,
                                 started TEXT NOT NULL, finished TEXT, seconds REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rows (run INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL, size INTEGER, mtime_ns INTEGER,
                                 record TEXT NOT NULL, PRIMARY KEY (run, path));
CREATE TABLE IF NOT EXISTS artefacts (run INTEGER NOT NULL, path TEXT NOT NULL, method TEXT NOT NULL, shape TEXT NOT NULL,
                                      map BLOB NOT NULL, thumbnail BLOB, PRIMARY KEY (run, path, method));
"""


@dataclass(frozen=True)
class RunState:
    """A run of the journal: its id, when it started, whether it existed before, the (size,
    mtime_ns) of each file it already has a row for, and the rows to compute again (their worker
    process died: the file may not be the cause)."""

    id: int
    started: str
    resumed: bool
    done: dict[str, tuple[int | None, int | None]]
    seconds: float
    crashed: frozenset[str]


class Journal:
    """The journal at ``folder / journal.sqlite``; use it from one thread, as a context manager."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / JOURNAL_NAME
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            raise errors.OutputError(f"{JOURNAL_NAME} is not a camviewer journal, or is damaged ({exc})", folder) from exc

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.close()

    def _check_schema(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version not in (0, SCHEMA_VERSION) or (version == 0 and tables):
            raise sqlite3.DatabaseError(f"schema version {version}")
        self.db.executescript(SCHEMA)
        self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def open_run(self, digest: str, config: dict[str, Any]) -> RunState:
        """The run with this configuration digest, made when there is none yet."""
        row = self.db.execute("SELECT id, started, seconds FROM runs WHERE digest = ?", (digest,)).fetchone()
        if row is None:
            started = datetime.now(UTC).isoformat(timespec="seconds")
            cursor = self.db.execute("INSERT INTO runs (digest, config, started) VALUES (?, ?, ?)", (digest, json.dumps(config), started))
            return RunState(int(cursor.lastrowid or 0), started, False, {}, 0.0, frozenset())
        run, started, seconds = row
        done, crashed = {}, set()
        for path, size, mtime, record in self.db.execute("SELECT path, size, mtime_ns, record FROM rows WHERE run = ?", (run,)):
            done[path] = (size, mtime)
            if json.loads(record)["status"] == failed(WORKER_CRASHED):
                crashed.add(path)
        return RunState(run, started, True, done, float(seconds), frozenset(crashed))

    def has_run(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM runs WHERE digest = ?", (digest,)).fetchone() is not None

    def write(self, run: int, outcomes: Iterable[Outcome]) -> None:
        """Rows and their artefacts, in one transaction (all or nothing)."""
        with self._transaction():
            for o in outcomes:
                self.db.execute("INSERT OR REPLACE INTO rows VALUES (?, ?, ?, ?, ?)",
                                (run, o.record.path, o.entry.size, o.entry.mtime_ns, json.dumps(o.record.to_json(), allow_nan=True)))
                self.db.execute("DELETE FROM artefacts WHERE run = ? AND path = ?", (run, o.record.path))
                for method, raw in o.artefacts.maps.items():
                    self.db.execute("INSERT INTO artefacts VALUES (?, ?, ?, ?, ?, ?)",
                                    (run, o.record.path, method, json.dumps(raw.shape), zlib.compress(raw.tobytes(), 1),
                                     o.artefacts.thumbnails.get(method)))

    def forget(self, run: int, paths: Iterable[str]) -> None:
        """Drop the rows of files that are no longer in the folder."""
        with self._transaction():
            for path in paths:
                self.db.execute("DELETE FROM rows WHERE run = ? AND path = ?", (run, path))
                self.db.execute("DELETE FROM artefacts WHERE run = ? AND path = ?", (run, path))

    def finish(self, run: int, seconds: float, complete: bool) -> None:
        finished = datetime.now(UTC).isoformat(timespec="seconds") if complete else None
        self.db.execute("UPDATE runs SET seconds = ?, finished = ? WHERE id = ?", (seconds, finished, run))

    def records(self, run: int) -> Iterator[ImageRecord]:
        """The run's rows, sorted by path, read one at a time."""
        for (text,) in self.db.execute("SELECT record FROM rows WHERE run = ? ORDER BY path", (run,)):
            yield ImageRecord.from_json(json.loads(text))

    def count(self, run: int) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM rows WHERE run = ?", (run,)).fetchone()[0])

    def thumbnail(self, run: int, path: str, method: str) -> bytes | None:
        row = self.db.execute("SELECT thumbnail FROM artefacts WHERE run = ? AND path = ? AND method = ?", (run, path, method)).fetchone()
        return None if row is None else row[0]

    def maps(self, run: int) -> Iterator[tuple[str, str, np.ndarray]]:
        """(path, method, raw map) of the run, sorted by path and method."""
        query = "SELECT path, method, shape, map FROM artefacts WHERE run = ? ORDER BY path, method"
        for path, method, shape, data in self.db.execute(query, (run,)):
            yield path, method, np.frombuffer(zlib.decompress(data), dtype=np.float32).reshape(json.loads(shape))

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, *rest: object) -> None:
        if kind is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.Error as failure:
                exc = failure
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            disk_full = "full" in str(exc)
            raise errors.OutputError("disk full" if disk_full else f"the journal could not be written ({exc})", JOURNAL_NAME) from exc
