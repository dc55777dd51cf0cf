"""Settings of the metering service: state database, plant file, webhooks, and the production guard.

Bad input: outside `env=development`, a setting still holding a development default secret
(the InfluxDB dev token, the dev bootstrap key), the `.env.example` placeholder or a trivial
value (plantcarbon_core/secret_strength.py) is refused at start with the setting's name, never its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from metering.alerts.notify import Webhook
from plantcarbon_core.secret_strength import weakness
from plantcarbon_core.settings import Settings

DEV_INFLUX_TOKEN = "plantcarbon-dev-token"


class ApiSettings(Settings):
    env: Literal["development", "production"] = "development"
    # SQLAlchemy URL of the state database; default: SQLite in the data dir.
    state_url: str | None = None
    plant_file: Path | None = None
    # JSON list, e.g. [{"url": "https://oapi.dingtalk.com/robot/send?access_token=…", "format": "dingtalk"}]
    alert_webhooks: list[Webhook] = Field(default_factory=list)
    # An admin key created at start when no admin key exists (first run); hashed like any other.
    bootstrap_admin_key: SecretStr | None = None
    alerts_enabled: bool = True
    # The alert engine checks the device register hourly (calibration due or lapsed, class below GB 17167).
    register_alerts: bool = True
    # The register's calibration alert fires this many days before a calibration falls due (docs/register.md).
    register_due_within_days: int = Field(default=30, ge=0, le=365)

    @model_validator(mode="after")
    def _no_default_secrets(self) -> ApiSettings:
        if self.env == "development":
            return self
        problems = []
        if self.influx_token.get_secret_value() == DEV_INFLUX_TOKEN:
            problems.append("PLANTCARBON_INFLUX_TOKEN holds the development token")
        elif why := weakness(self.influx_token.get_secret_value()):
            problems.append(f"PLANTCARBON_INFLUX_TOKEN {why}")
        key = self.bootstrap_admin_key
        if key is not None and (len(key.get_secret_value()) < 24 or "dev" in key.get_secret_value().lower()):
            problems.append(
                "PLANTCARBON_BOOTSTRAP_ADMIN_KEY is too short or a development key (need ≥ 24 random chars)"
            )
        elif key is not None and (why := weakness(key.get_secret_value(), 24)):
            problems.append(f"PLANTCARBON_BOOTSTRAP_ADMIN_KEY {why}")
        if self.mqtt_password is not None and (why := weakness(self.mqtt_password.get_secret_value())):
            problems.append(f"PLANTCARBON_MQTT_PASSWORD {why}")
        for i, hook in enumerate(self.alert_webhooks):
            if hook.secret is not None and (why := weakness(hook.secret.get_secret_value())):
                problems.append(f"PLANTCARBON_ALERT_WEBHOOKS[{i}].secret {why}")
        for setting, path in (
            ("PLANTCARBON_INFLUX_TOKEN_FILE", self.influx_token_file),
            ("PLANTCARBON_MQTT_PASSWORD_FILE", self.mqtt_password_file),
        ):
            if path is not None and (mode := path.stat().st_mode & 0o777) & 0o007:
                problems.append(f"{setting} is readable by every user (mode {mode:04o}); chmod 0400 or 0440")
        if problems:
            raise ValueError(f"refusing to start with env={self.env}: " + "; ".join(problems))
        return self

    def resolved_state_url(self) -> str:
        if self.state_url:
            return self.state_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'metering-state.sqlite'}"
