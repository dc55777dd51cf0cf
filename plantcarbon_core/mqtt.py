"""One MQTT broker configuration and one paho client maker, shared by every part that talks to the broker.

Edge publisher, ingest, alert engine, DR listener and the simulators all connect through
`make_client(BrokerConfig, …)`, so a URL, credentials and TLS files mean the same everywhere:

- `mqtt://host[:1883]` (or `tcp://`) is plain MQTT; `mqtts://host[:8883]` (or `ssl://`) is TLS.
- A CA file turns TLS on even for `mqtt://` (a private CA implies a TLS listener); without a
  CA file `mqtts://` verifies the broker against the system's CAs.
- A client certificate and key are sent when given (mutual TLS).

Bad input: a URL with another scheme or no host, or a key without a certificate, raises
`ValueError` naming the URL or file when the config is built, before anything connects.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

if TYPE_CHECKING:
    from plantcarbon_core.settings import Settings

_TLS_SCHEMES = {"mqtts": True, "ssl": True, "mqtt": False, "tcp": False}


def parse_mqtt_url(url: str) -> tuple[str, int, bool]:
    """`mqtt://host:port` or `mqtts://host:port` → (host, port, tls by scheme); ValueError otherwise."""
    try:
        u = urlparse(url)
        port = u.port
    except ValueError as exc:  # a port that is not a number or out of range
        raise ValueError(f"MQTT URL {url!r}: {exc}") from None
    if u.scheme not in _TLS_SCHEMES or not u.hostname:
        raise ValueError(f"MQTT URL must look like mqtt://host:1883 or mqtts://host:8883, got {url!r}")
    tls = _TLS_SCHEMES[u.scheme]
    return u.hostname, port or (8883 if tls else 1883), tls


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker is and how to authenticate; validated when built."""

    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or reprs
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    protocol: str = "auto"  # auto (MQTT 5, a caller may fall back to 3.1.1) | 5 | 3.1.1
    keepalive_s: int = 15

    def __post_init__(self) -> None:
        parse_mqtt_url(self.url)
        if self.key_file is not None and self.cert_file is None:
            raise ValueError(f"MQTT client key {self.key_file} given without a client certificate")
        if self.protocol not in ("auto", "5", "3.1.1"):
            raise ValueError(f"MQTT protocol must be auto, 5 or 3.1.1, got {self.protocol!r}")

    @classmethod
    def from_settings(cls, s: Settings, protocol: str = "auto") -> BrokerConfig:
        """The broker of the PLANTCARBON_MQTT_* settings (URL, user, password, TLS files)."""
        return cls(
            url=s.mqtt_url,
            username=s.mqtt_username,
            password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
            ca_file=str(s.mqtt_ca_file) if s.mqtt_ca_file else None,
            cert_file=str(s.mqtt_cert_file) if s.mqtt_cert_file else None,
            key_file=str(s.mqtt_key_file) if s.mqtt_key_file else None,
            protocol=protocol,
        )

    @property
    def host(self) -> str:
        return parse_mqtt_url(self.url)[0]

    @property
    def port(self) -> int:
        # mqtt:// with a CA file is TLS; its default port is then the TLS one.
        return urlparse(self.url).port or (8883 if self.tls else 1883)

    @property
    def tls(self) -> bool:
        return parse_mqtt_url(self.url)[2] or self.ca_file is not None

    @property
    def v5(self) -> bool:
        """MQTT 5 first (`auto` and `5`)."""
        return self.protocol != "3.1.1"


def make_client(
    cfg: BrokerConfig,
    client_id: str,
    v5: bool | None = None,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A paho client with the config's credentials and TLS, not yet connected.

    `persistent`: on MQTT 3.1.1 ask for a kept session (clean_session=False); on MQTT 5 the
    caller sets clean_start and the session expiry at connect. Reconnects back off 1 → 5 s.
    """
    use_v5 = cfg.v5 if v5 is None else v5
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if use_v5 else mqtt.MQTTv311,
        clean_session=None if use_v5 else not persistent,
        manual_ack=manual_ack,
    )
    if cfg.username is not None:
        client.username_pw_set(cfg.username, cfg.password)
    if cfg.tls:
        client.tls_set(
            ca_certs=cfg.ca_file,
            certfile=cfg.cert_file,
            keyfile=cfg.key_file,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
    client.reconnect_delay_set(1, 5)
    return client
