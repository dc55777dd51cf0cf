"""Synchronous, gzip-compressed line-protocol writes with retries, back-off and bad-line isolation.

Failure model: a write can fail because InfluxDB is unreachable, overloaded or restarting
(connection errors, 5xx, 429 — retried with exponential back-off, honouring `Retry-After`,
until it succeeds or the service is stopping), because the batch is too large (413 — split
in half), or because some lines are refused (400 parse errors, 422 field-type conflicts —
the batch is split in halves until the refused lines stand alone; they are returned as
rejected and everything else is written). Auth and missing-bucket errors (401/403/404) are
configuration mistakes that an operator fixes while ingest waits: they are retried too,
never dropped.
"""

from __future__ import annotations

import logging
import random
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

from core.influx import InfluxTarget

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
    ):
        self.target = target
        self.bucket = bucket or target.raw_bucket
        self.stopping = stopping or threading.Event()
        self.max_backoff_s = max_backoff_s
        self.on_retry = on_retry or (lambda reason: None)
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
            return [RejectedLine(lines[0], status, message)]
        mid = len(lines) // 2
        return self.write(lines[:mid]) + self.write(lines[mid:])

    def _post_until_done(self, lines: list[str]) -> tuple[int | None, str]:
        """(None, "") once written; (status, message) when InfluxDB refuses lines (split them)."""
        body = "\n".join(lines).encode("utf-8")
        attempt = 0
        while True:
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
                message = str(exc.body or exc.reason or "")[:500]
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
