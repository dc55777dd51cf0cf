"""Dead-letter records (one per rejected message, payload capped) and the size-capped, rotating dead-letter file.

A message is dead-lettered once, whatever number of its lines were refused: the record holds
the payload once and the refused lines by index with their reasons. A payload above
`MAX_PAYLOAD_BYTES` is kept as its first bytes plus its size and SHA-256, so one hostile
1 MB message cannot write megabytes of dead letters. The file rotates at a size cap and keeps
a few old files; a write that fails (disk full) is reported to the caller, never raised.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from ingest.accounting import COMPONENT

MAX_PAYLOAD_BYTES = 64 * 1024
MAX_LINES_LISTED = 50  # refused lines listed per record (the count is always exact)


def dead_letter_record(reason: str, message: str, topic: str, payload: bytes, now_ms: int, **extra: Any) -> str:
    """The JSON line of one dead letter (see docs/ingest.md)."""
    kept = payload[:MAX_PAYLOAD_BYTES]
    record: dict[str, Any] = {
        "component": COMPONENT,
        "reason": reason,
        "message": message[:1000],
        "topic": topic[:300],
        "received_ms": now_ms,
        "payload_bytes": len(payload),
        "payload_b64": base64.b64encode(kept).decode("ascii"),
    }
    if len(kept) < len(payload):
        record["payload_truncated"] = True
        record["payload_sha256"] = hashlib.sha256(payload).hexdigest()
    record.update(extra)
    return json.dumps(record, separators=(",", ":"))


class _Handler(RotatingFileHandler):
    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        self.failed = True  # the caller counts it; the default would print a traceback per record


class DeadLetterFile:
    """Append-only JSONL that rotates at `max_bytes` (keeping `backups` old files: `.1`, `.2` …)."""

    def __init__(self, path: Path, max_bytes: int, backups: int):
        self.path = path
        self._handler: _Handler | None = None
        self._max_bytes, self._backups = max_bytes, backups
        self._lock = threading.Lock()

    def _open(self) -> _Handler:
        if self._handler is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h = _Handler(self.path, maxBytes=self._max_bytes, backupCount=self._backups, encoding="utf-8", delay=True)
            h.setFormatter(logging.Formatter("%(message)s"))
            self._handler = h
        return self._handler

    def append(self, doc: str) -> bool:
        """Write one record; False when it could not be written (disk full, no permission)."""
        rec = logging.LogRecord("dead-letters", logging.INFO, "", 0, doc, None, None)
        with self._lock:
            try:
                h = self._open()
            except OSError:
                return False
            h.failed = False
            h.emit(rec)
            if not h.failed:
                h.flush()
            return not h.failed

    def close(self) -> None:
        with self._lock:
            if self._handler is not None:
                self._handler.close()
                self._handler = None
