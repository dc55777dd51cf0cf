"""docker-compose.yml, statically: valid for docker-compose, consistent with the CLI, the harness and .env.

Docker cannot run on this machine, so the file is checked by Debian's docker-compose
(`config`) and by reading it: every plantcarbon command parses against the real CLI, images
are pinned, secrets come only from .env, and each service reads the least-privilege token
the InfluxDB set-up script writes for it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import click
import pytest
import typer.main
import yaml

from harness.mosquitto import QUEUE_LIMITS, ensure_apt_tool
from plantcarbon.cli import app

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_docker_compose_config_accepts_it(tmp_path: Path) -> None:
    binary = ensure_apt_tool("docker-compose", "docker-compose")
    doc = compose()
    # Debian's docker-compose 1.29 predates the top-level `name` key of the Compose spec.
    doc.pop("name")
    (tmp_path / "docker-compose.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for sub in ("deploy", "examples"):
        (tmp_path / sub).symlink_to(ROOT / sub)
    (tmp_path / "Dockerfile").symlink_to(ROOT / "Dockerfile")
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    out = subprocess.run(
        [str(binary), "--project-directory", str(tmp_path), "-f", str(tmp_path / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    resolved = yaml.safe_load(out.stdout)
    assert set(resolved["services"]) >= {"mosquitto", "influxdb", "grafana", "ingest", "metering", "api", "edge"}


def test_images_pinned_and_healthchecked() -> None:
    services = compose()["services"]
    for name in ("mosquitto", "influxdb", "grafana"):
        image = services[name]["image"]
        assert re.search(r":\d+\.\d+\.\d+$", image), f"{name}: image {image} is not pinned to a version"
        assert "healthcheck" in services[name], name
    assert services["influxdb"]["image"] == "influxdb:2.7.12"  # the version the harness builds


def test_plantcarbon_commands_parse_against_the_cli() -> None:
    root = typer.main.get_command(app)
    for name, svc in compose()["services"].items():
        if svc.get("image", "").startswith("plantcarbon") or "build" in svc:
            args = list(svc["command"])
            cmd: click.Command = root
            while isinstance(cmd, click.Group):
                sub = cmd.get_command(click.Context(cmd), args[0])
                assert sub is not None, f"{name}: no command {args[0]!r}"
                cmd, args = sub, args[1:]
            cmd.make_context(name, args)  # raises on an unknown option or a missing argument


def test_secrets_only_from_env_file() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert required <= set(example), f"missing from .env.example: {required - set(example)}"
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    for name, svc in compose()["services"].items():
        env = svc.get("environment") or {}
        for key, value in env.items():
            if any(word in key for word in ("PASSWORD", "TOKEN", "KEY")):
                assert str(value).startswith(("${", "/run/")), f"{name}: {key} is not taken from .env or a secret file"


def test_each_service_reads_its_least_privilege_token() -> None:
    script = (ROOT / "deploy" / "influxdb-init" / "10-plantcarbon.sh").read_text()
    written = set(re.findall(r'"\$out/(\w+)\.token"', script))
    services = compose()["services"]
    used = {
        Path(s["environment"]["PLANTCARBON_INFLUX_TOKEN_FILE"]).stem
        for s in services.values()
        if isinstance(s.get("environment"), dict) and "PLANTCARBON_INFLUX_TOKEN_FILE" in s["environment"]
    }
    assert used == {"ingest", "metering", "api"} and used <= written
    assert "grafana.token" in " ".join(services["grafana"]["entrypoint"])
    # ingest may only write raw; Grafana only reads.
    assert re.search(r"token plantcarbon-ingest --write-bucket \"\$raw\" >", script)
    grafana_line = next(line for line in script.splitlines() if "plantcarbon-grafana" in line)
    assert "--write-bucket" not in grafana_line


@pytest.mark.parametrize("conf", ["mosquitto-compose.conf", "mosquitto.conf"])
def test_broker_configs_keep_the_harness_queue_limits(conf: str) -> None:
    text = (ROOT / "deploy" / conf).read_text()
    for setting in QUEUE_LIMITS.strip().splitlines():
        key = setting.split()[0]
        assert re.search(rf"^{key} ", text, re.M), f"{conf}: {key} missing"
    if conf == "mosquitto-compose.conf":
        assert "allow_anonymous false" in text and "password_file" in text and "acl_file" in text


def _mqtt_users(services: dict) -> dict[str, str]:
    """service → the MQTT user it logs in as (services that use the broker)."""
    out = {}
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if isinstance(env, dict) and "PLANTCARBON_MQTT_USERNAME" in env:
            out[name] = str(env["PLANTCARBON_MQTT_USERNAME"])
    return out


def test_each_service_and_the_edge_log_in_as_their_own_acl_user() -> None:
    """Issue 16, finding 10: no shared MQTT user; each user is in the generated ACL and has a password."""
    from plantcarbon_core.broker_acl import acl_text
    from plantcarbon_core.plant import load_plant

    services = compose()["services"]
    users = _mqtt_users(services)
    assert users == {"ingest": "ingest", "api": "alerts", "edge": "${EDGE_ID:-edge-1}"}
    assert len(set(users.values())) == len(users)
    for name, svc in services.items():  # nobody else holds MQTT credentials
        env = svc.get("environment") or {}
        if name not in users and isinstance(env, dict):
            assert not any(k.startswith("PLANTCARBON_MQTT_PASS") for k in env), name
    # Each password is its own .env setting.
    passwords = [services[n]["environment"]["PLANTCARBON_MQTT_PASSWORD"] for n in users]
    assert len(set(passwords)) == len(passwords)
    acl = acl_text(load_plant(ROOT / "examples" / "plant-a.yaml"), ["edge-1"])
    acl_users = set(re.findall(r"^user (\S+)$", acl, re.M))
    assert {"ingest", "alerts", "edge-1"} <= acl_users
    # The broker writes a password for each of them and enforces the ACL the broker-acl step writes.
    script = services["mosquitto"]["command"][-1]
    for user in ("ingest", "alerts", '"$$EDGE_ID"', "monitor"):
        assert f"mosquitto_passwd -b /mosquitto/data/passwd {user} " in script, user
    assert "acl_file /mosquitto/acl/acl" in (ROOT / "deploy" / "mosquitto-compose.conf").read_text()
    assert services["broker-acl"]["command"][-1] == "/acl/acl"
    assert "mosquitto-acl:/mosquitto/acl:ro" in services["mosquitto"]["volumes"]
    assert services["mosquitto"]["depends_on"]["broker-acl"]["condition"] == "service_completed_successfully"
    assert "-u monitor" in services["mosquitto"]["healthcheck"]["test"][-1]


def test_api_and_metering_share_the_user_factor_and_tariff_files() -> None:
    """Issue 16, finding 11: what the API saves under {data_dir}/factors|tariffs, metering reads."""
    from metering.carbon.factor_registry import user_factor_dir

    data_dir = Path(re.search(r"PLANTCARBON_DATA_DIR=(\S+)", (ROOT / "Dockerfile").read_text()).group(1))  # type: ignore[union-attr]
    services = compose()["services"]

    def mounts(svc: str) -> dict[str, str]:
        out = {}
        for v in services[svc]["volumes"]:
            src, dst, *mode = v.split(":")
            out[dst] = src + (":" + mode[0] if mode else "")
        return out

    api, metering = mounts("api"), mounts("metering")
    for target in (str(user_factor_dir(data_dir)), str(data_dir / "tariffs")):
        assert target in api and target in metering, target
        assert api[target].split(":")[0] == metering[target].split(":")[0]  # the same named volume
        assert not api[target].endswith(":ro")  # the API writes them
    assert api[str(data_dir)] == "api-state" and metering[str(data_dir)] == "metering-state"


def test_token_files_are_per_service_and_not_world_readable() -> None:
    """Issue 16, finding 13: each service mounts only its own token volume; files 0400, never 0644."""
    services = compose()["services"]
    token_volumes: dict[str, list[str]] = {}
    for name, svc in services.items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0]
            if "token" in src:
                token_volumes.setdefault(src, []).append(name)
    for vol, users in token_volumes.items():
        if vol == "influx-tokens":
            assert sorted(users) == ["influxdb", "tokens", "tokens-dir"]  # the set-up's own volume
        else:
            assert len(users) == 2 and "tokens" in users, f"{vol} mounted by {users}"
    script = (ROOT / "deploy" / "influxdb-init" / "10-plantcarbon.sh").read_text()
    assert "0644" not in script and "umask 077" in script
    copy = services["tokens"]["command"][-1]
    assert copy.count("-m 0400") == 2 and "-o 10001" in copy and "-o 472" in copy
    assert "--uid 10001" in (ROOT / "Dockerfile").read_text()
    # The set-up scripts run as InfluxDB's user: the volume is theirs before InfluxDB starts.
    assert services["tokens-dir"]["command"] == ["chown 1000:1000 /src && chmod 0700 /src"]
    assert services["influxdb"]["depends_on"]["tokens-dir"]["condition"] == "service_completed_successfully"


def test_emqx_profile_is_an_apache_licensed_cluster_with_the_same_users_and_acl() -> None:
    """Issue 16, finding 14: a broker users may cluster under an open licence, locked down like Mosquitto."""
    from plantcarbon_core.broker_acl import acl_text
    from plantcarbon_core.plant import load_plant

    services = compose()["services"]
    nodes = [s for s in services.values() if str(s.get("image", "")).startswith("emqx/emqx:")]
    assert len(nodes) == 2 and all(s["profiles"] == ["emqx"] for s in nodes)
    for s in nodes:
        # 5.8.x is the last EMQX line under Apache-2.0; 5.9.0 and later are BSL 1.1.
        assert re.fullmatch(r"emqx/emqx:5\.8\.\d+", s["image"]), s["image"]
        env = s["environment"]
        assert env["EMQX_AUTHORIZATION__NO_MATCH"] == "deny"
        assert '"/opt/emqx/acl/acl.conf"' in env["EMQX_AUTHORIZATION__SOURCES"]
        assert (
            "built_in_database" in env["EMQX_AUTHENTICATION"]
            and "/opt/emqx/users/users.csv" in env["EMQX_AUTHENTICATION"]
        )
        assert int(env["EMQX_MQTT__MAX_MQUEUE_LEN"]) >= 10_000_000
        assert "emqx-acl:/opt/emqx/acl:ro" in s["volumes"] and "emqx-users:/opt/emqx/users:ro" in s["volumes"]
    seeds = nodes[0]["environment"]["EMQX_CLUSTER__STATIC__SEEDS"]
    assert all(s["environment"]["EMQX_NODE__NAME"] in seeds for s in nodes)
    assert services["broker-acl-emqx"]["command"][-4:] == ["--format", "emqx", "--out", "/acl/acl.conf"]
    # The users seeded into EMQX are the users the services log in as.
    seeded = services["emqx-users"]["command"][-1]
    for user in ("ingest", "alerts", "monitor"):
        assert f"{user},%s,false" in seeded
    # The EMQX ACL: one Erlang tuple per rule, nothing allowed to anyone else.
    text = acl_text(load_plant(ROOT / "examples" / "plant-a.yaml"), ["edge-1"], fmt="emqx")
    rules = [line for line in text.splitlines() if not line.startswith("%%")]
    assert rules[-1] == "{deny, all}."
    rule = re.compile(r'^\{allow, \{username, "[a-z0-9_-]+"\}, (publish|subscribe|all), \["[^"\s]+"\]\}\.$')
    assert all(rule.match(line) for line in rules[:-1]), [line for line in rules[:-1] if not rule.match(line)]
    assert '{allow, {username, "edge-1"}, publish, ["pc/plant-a/tr-01/data"]}.' in rules
    assert not any('"edge-1"' in line and "alerts" in line for line in rules)
