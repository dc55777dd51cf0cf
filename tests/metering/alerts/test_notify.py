"""Notification payloads: the MQTT/generic JSON, WeCom and DingTalk robot bodies, DingTalk signing, the alerts line."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

from metering.alerts.notify import AlertEvent, Webhook, alert_line, dingtalk_signed_url, webhook_body, webhook_name

EV = AlertEvent(
    site="plant-a",
    rule="tr-01-power",
    alert_id=7,
    state="firing",
    severity="critical",
    value=4210.5,
    threshold=4000.0,
    message='tr-01.p_kw above 4000: 4210.5, "hot"',
    ts_ms=1772589600000,
)


def test_generic_payload_is_the_alert_schema() -> None:
    assert webhook_body(EV, "generic") == {
        "schema": "pc.alert/1",
        "site": "plant-a",
        "rule": "tr-01-power",
        "alert_id": 7,
        "state": "firing",
        "severity": "critical",
        "value": 4210.5,
        "threshold": 4000.0,
        "message": 'tr-01.p_kw above 4000: 4210.5, "hot"',
        "ts": 1772589600000,
    }


def test_wecom_robot_markdown() -> None:
    # WeCom group robot: {"msgtype": "markdown", "markdown": {"content": "..."}}
    # (https://developer.work.weixin.qq.com/document/path/91770)
    body = webhook_body(EV, "wecom")
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert "CRITICAL 严重" in content and "firing 告警" in content and "4210.5" in content and "tr-01-power" in content


def test_dingtalk_robot_markdown() -> None:
    # DingTalk custom robot: {"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}
    # (https://open.dingtalk.com/document/robots/custom-robot-access)
    body = webhook_body(EV, "dingtalk")
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "tr-01-power firing"
    assert "阈值 4000" in body["markdown"]["text"]


def test_dingtalk_signature() -> None:
    # DingTalk's signing rule: sign = urlencode(base64(HmacSHA256(key=secret, msg=f"{timestamp}\n{secret}"))).
    secret, ts = "SEC000example", 1772589600000
    url = dingtalk_signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", secret, ts)
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    expected = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
    assert q["access_token"] == ["abc"] and q["timestamp"] == [str(ts)] and q["sign"] == [expected]


def test_alerts_measurement_line() -> None:
    assert alert_line(EV) == (
        "alerts,rule=tr-01-power,severity=critical,site=plant-a "
        'message="tr-01.p_kw above 4000: 4210.5, \\"hot\\"",state="firing",threshold=4000,value=4210.5 1772589600000'
    )


def test_webhook_url_is_secret() -> None:
    hook = Webhook.model_validate(
        {"url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET123", "format": "wecom"}
    )
    assert "SECRET123" not in repr(hook) and "SECRET123" not in webhook_name(hook)
    assert webhook_name(hook) == "webhook:wecom@qyapi.weixin.qq.com"
