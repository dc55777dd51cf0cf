"""Synchronous, gzip-compressed line-protocol writes with retries, back-off and bad-line isolation.

Failure model: a write can fail because InfluxDB is unreachable, overloaded or restarting
(connection errors, 5xx, 429 — retried with exponential back-off, honouring `Retry-After`,
until it succeeds or the service is stopping), because the batch is too large (413 — split
in half), or because some lines are refused (400 parse errors, 422 field-type conflicts or
points outside the bucket's retention). A refusal that names its lines is resolved without
splitting: a 400 quotes every unparsable line (nothing was written; the rest is written
again once), a 422 partial write says how many points it dropped (the rest is written) — when
that is all of them, or the lines of the field whose type conflicts, those are the refused
ones. Only a refusal that cannot be matched to lines is split in halves until the refused
lines stand alone. Refused lines are returned; everything else is written. Auth and
missing-bucket errors (401/403/404) are configuration mistakes that an operator fixes while
ingest waits: they are retried too, never dropped.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from plantcarbon_core.influx import InfluxTarget

log = logging.getLogger(__name__)

SPLIT_STATUSES = frozenset({400, 413, 422})
MAX_RETRY_AFTER_S = 120.0


class WriteAborted(RuntimeError):
    """The service is stopping and the write did not succeed: nothing may be acknowledged."""


@dataclass(frozen=True, slots=True)
class RejectedLine:
    line: str
    status: int
    message: str

    @property
    def reason(self) -> str:
        return f"influx_{self.status}"


def retry_after_s(headers: Any, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent or bad."""
    if headers is None:
        return None
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    if raw is None:
        return None
    raw = str(raw).strip()
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - (time.time() if now is None else now), 0.0), MAX_RETRY_AFTER_S)


def backoff_s(attempt: int, base_s: float = 0.2, cap_s: float = 5.0) -> float:
    """Exponential back-off with jitter: 0.2, 0.4, 0.8 … up to `cap_s`."""
    delay: float = min(cap_s, base_s * 2 ** min(attempt, 20))
    return delay * random.uniform(0.75, 1.0)


_DROPPED = re.compile(r"dropped=(\d+)")
_CONFLICT = re.compile(r'field type conflict: input field "(?P<field>[^"]+)" on measurement "(?P<m>[^"]+)"')
_UNPARSABLE = re.compile(r"unable to parse '(?P<line>.*?)': ")


def _error_text(body: object) -> str:
    """The `message` of InfluxDB's JSON error body (quotes unescaped), or the body as text."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    return str(doc.get("message", text)) if isinstance(doc, dict) else text


def refused_lines(lines: list[str], status: int, message: str) -> tuple[list[str], list[str]] | None:
    """(refused, still to write) when InfluxDB's answer tells which lines it refused, else None.

    400 "unable to parse '<line>': …" (nothing of the request was written): the quoted lines are
    refused, the others must be written again. 422 "partial write … dropped=N" (the others were
    written): all lines when N is their number, or the N lines carrying a conflicting field.
    """
    if status == 400:
        quoted = {m.group("line") for m in _UNPARSABLE.finditer(message)}
        refused = [ln for ln in lines if ln in quoted]
        if refused and len(refused) >= len(quoted):
            return refused, [ln for ln in lines if ln not in quoted]
        return None
    dropped = _DROPPED.search(message)
    if status != 422 or "partial write" not in message or dropped is None:
        return None
    n = int(dropped.group(1))
    if n == len(lines):
        return list(lines), []
    conflict = _CONFLICT.search(message)
    if conflict is not None:
        m, f = conflict.group("m"), conflict.group("field")
        hits = [ln for ln in lines if _measurement(ln) == m and _has_field(ln, f)]
        if len(hits) == n:
            return hits, []
    return None


def _measurement(ln: str) -> str:
    end = min((i for i in (ln.find(","), ln.find(" ")) if i >= 0), default=len(ln))
    return ln[:end]


def _has_field(ln: str, field: str) -> bool:
    # Fields sit between the first and last space of our lines (no spaces in keys or tags).
    parts = ln.split(" ")
    fields = " ".join(parts[1:-1]) if len(parts) >= 3 else ""
    return any(kv.split("=", 1)[0] == field for kv in fields.split(","))


class InfluxWriter:
    """Writes lists of lines to one bucket; `write` returns only when every line is written or rejected."""

    def __init__(
        self,
        target: InfluxTarget,
        bucket: str | None = None,
        *,
        stopping: threading.Event | None = None,
        max_backoff_s: float = 5.0,
        timeout_ms: int = 30_000,
        on_retry: Callable[[str], None] | None = None,
        on_request: Callable[[], None] | None = None,
    ):
        self.target = target
        self.bucket = bucket or target.raw_bucket
        self.stopping = stopping or threading.Event()
        self.max_backoff_s = max_backoff_s
        self.on_retry = on_retry or (lambda reason: None)
        self.on_request = on_request or (lambda: None)
        # retries=False: the client's own urllib3 retries would hide the status we act on.
        self._client = InfluxDBClient(
            url=target.url, token=target.token, org=target.org, timeout=timeout_ms, enable_gzip=True, retries=False
        )
        self._api = self._client.write_api(write_options=SYNCHRONOUS)
        self._last_logged: dict[str, float] = {}

    def close(self) -> None:
        self._client.close()

    def write(self, lines: list[str]) -> list[RejectedLine]:
        if not lines:
            return []
        status, message = self._post_until_done(lines)
        if status is None:
            return []
        if len(lines) == 1:
            return [RejectedLine(lines[0], status, message[:500])]
        known = refused_lines(lines, status, message)
        message = message[:500]
        if known is not None:
            refused, rewrite = known
            out = [RejectedLine(ln, status, message) for ln in refused]
            return out + self.write(rewrite) if rewrite else out
        mid = len(lines) // 2
        return self.write(lines[:mid]) + self.write(lines[mid:])

    def _post_until_done(self, lines: list[str]) -> tuple[int | None, str]:
        """(None, "") once written; (status, message) when InfluxDB refuses lines (split them)."""
        body = "\n".join(lines).encode("utf-8")
        attempt = 0
        while True:
            self.on_request()
            try:
                self._api.write(
                    bucket=self.bucket,
                    org=self.target.org,
                    record=body,
                    write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # the constant is typed str
                )
                return None, ""
            except ApiException as exc:
                status = int(exc.status or 0)
                message = _error_text(exc.body) or str(exc.reason or "")
                if status in SPLIT_STATUSES:
                    return status, message
                delay = retry_after_s(exc.headers) if status in (429, 503) else None
                reason = f"http_{status}"
            except (Urllib3Error, OSError) as exc:
                delay, reason, message = None, "connection", str(exc)[:300]
            if delay is None:
                delay = backoff_s(attempt, cap_s=self.max_backoff_s)
            attempt += 1
            self.on_retry(reason)
            self._log_once(reason, f"InfluxDB write failed ({reason}: {message}); retrying in {delay:.1f} s")
            if self.stopping.wait(delay):
                raise WriteAborted(f"stopping while InfluxDB write fails ({reason})")

    def _log_once(self, kind: str, text: str) -> None:
        # Once per kind per minute: an outage must not flood the log.
        now = time.monotonic()
        if now - self._last_logged.get(kind, -1e9) > 60:
            self._last_logged[kind] = now
            log.warning(text)
