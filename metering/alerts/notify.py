"""Alert notifications: the event payload, webhook bodies (generic, WeCom, DingTalk) and their senders.

Failures to deliver (webhook down, broker away) are logged once per target and counted; they
never stop the engine. Webhook URLs may hold tokens: they are never logged, only their host.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from plantcarbon_core import schema as sc
from plantcarbon_core.influx import line

log = logging.getLogger(__name__)

ALERT_SCHEMA = "pc.alert/1"
WebhookFormat = Literal["generic", "wecom", "dingtalk"]

STATE_ZH = {"firing": "告警", "acknowledged": "已确认", "resolved": "已恢复"}
SEVERITY_ZH = {"info": "提示", "warning": "警告", "critical": "严重"}


class Webhook(BaseModel):
    """A webhook target; `secret` signs DingTalk robot calls (加签)."""

    model_config = ConfigDict(extra="forbid")
    url: SecretStr  # robot URLs carry an access token: keep them out of logs and reprs
    format: WebhookFormat = "generic"
    secret: SecretStr | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One alert state change, as published on MQTT and posted to webhooks."""

    site: str
    rule: str
    alert_id: int
    state: str  # firing | acknowledged | resolved
    severity: str
    value: float
    threshold: float
    message: str
    ts_ms: int
    by: str | None = None  # who acknowledged

    def payload(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "schema": ALERT_SCHEMA,
            "site": self.site,
            "rule": self.rule,
            "alert_id": self.alert_id,
            "state": self.state,
            "severity": self.severity,
            "value": self.value,
            "threshold": self.threshold,
            "message": self.message,
            "ts": self.ts_ms,
        }
        if self.by:
            doc["by"] = self.by
        return doc


def _text(ev: AlertEvent) -> str:
    when = datetime.fromtimestamp(ev.ts_ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    return (
        f"**[{ev.severity.upper()} {SEVERITY_ZH.get(ev.severity, '')}] {ev.state} {STATE_ZH.get(ev.state, '')}**\n"
        f"> site 站点: {ev.site}\n> rule 规则: {ev.rule}\n> {ev.message}\n"
        f"> value 数值: {ev.value:g} (threshold 阈值 {ev.threshold:g})\n> {when}"
    )


def webhook_body(ev: AlertEvent, fmt: WebhookFormat) -> dict[str, Any]:
    """The JSON body for a webhook format (WeCom and DingTalk group-robot markdown messages)."""
    if fmt == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _text(ev)}}
    if fmt == "dingtalk":
        title = f"{ev.rule} {ev.state}"
        return {"msgtype": "markdown", "markdown": {"title": title, "text": _text(ev)}}
    return ev.payload()


def dingtalk_signed_url(url: str, secret: str, ts_ms: int) -> str:
    """DingTalk robot signing: sign = base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))."""
    digest = hmac.new(secret.encode(), f"{ts_ms}\n{secret}".encode(), hashlib.sha256).digest()
    sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={ts_ms}&sign={sign}"


def alert_line(ev: AlertEvent) -> str:
    """The event as a point of the `alerts` measurement (Grafana annotations)."""
    return line(
        sc.ALERTS,
        {"site": ev.site, "rule": ev.rule, "severity": ev.severity},
        {"state": ev.state, "value": float(ev.value), "threshold": float(ev.threshold), "message": ev.message},
        ev.ts_ms,
    )


Sink = Callable[[AlertEvent], None]


class Dispatcher:
    """Sends events to every sink on a worker thread, so a slow webhook never delays evaluation."""

    def __init__(self, sinks: list[tuple[str, Sink]]):
        self.sinks = sinks
        self.errors: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()
        self._q: queue.Queue[AlertEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="alert-dispatch", daemon=True)
        self._thread.start()

    def submit(self, ev: AlertEvent) -> None:
        self._q.put(ev)

    def close(self, timeout_s: float = 10.0) -> None:
        self._q.put(None)
        self._thread.join(timeout_s)

    def _run(self) -> None:
        while (ev := self._q.get()) is not None:
            for name, sink in self.sinks:
                try:
                    sink(ev)
                    self.sent[name] += 1
                except Exception as exc:  # a sink failing must not stop the others
                    if self.errors[name] == 0:
                        log.warning("alert notification to %s failed: %s", name, type(exc).__name__)
                    self.errors[name] += 1


def webhook_sink(hook: Webhook, client: httpx.Client | None = None, retries: int = 2) -> Sink:
    http = client or httpx.Client()

    def send(ev: AlertEvent) -> None:
        url = hook.url.get_secret_value()
        if hook.format == "dingtalk" and hook.secret is not None:
            url = dingtalk_signed_url(url, hook.secret.get_secret_value(), int(time.time() * 1000))
        body = json.dumps(webhook_body(ev, hook.format), ensure_ascii=False).encode("utf-8")
        for attempt in range(retries + 1):
            try:
                r = http.post(url, content=body, headers={"Content-Type": "application/json"}, timeout=hook.timeout_s)
                r.raise_for_status()
                return
            except httpx.HTTPError:
                if attempt == retries:
                    raise
                time.sleep(0.5 * (attempt + 1))

    return send


def webhook_name(hook: Webhook) -> str:
    host = urllib.parse.urlsplit(hook.url.get_secret_value()).hostname or "?"
    return f"webhook:{hook.format}@{host}"
