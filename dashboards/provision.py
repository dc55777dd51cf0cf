"""Provisioning files for Grafana, and `push` of the dashboards to a running Grafana.

`write_provisioning(plant, out, …)` writes
  OUT/provisioning/datasources/plantcarbon.yaml   two InfluxDB datasources in InfluxQL mode
  OUT/provisioning/dashboards/plantcarbon.yaml    a file provider for the folder below
  OUT/dashboards/<uid>.json                       the generated dashboards
The InfluxDB token is never written: the datasource file names an environment variable that
Grafana expands when it reads the file.

`push(docs, url, token)` uploads through grafana-client: it makes sure the folder exists (by
a fixed uid), then posts each dashboard with `overwrite: true` and its own stable uid, so a
second push updates in place. Grafana's refusals come back as `PushError` naming the dashboard.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError, GrafanaException

from dashboards.generate import Threshold, build_dashboards
from dashboards.i18n import Lang
from dashboards.validate import to_json
from plantcarbon_core import schema as sc
from plantcarbon_core.plant import Plant

FOLDER_UID = "plantcarbon"
FOLDER_TITLE = "plantcarbon"
TOKEN_ENV = "PLANTCARBON_INFLUX_TOKEN"


@dataclass(frozen=True)
class InfluxSource:
    """Where Grafana finds InfluxDB; the token stays in Grafana's environment."""

    url: str = "http://127.0.0.1:8086"
    raw_db: str = "raw"
    metering_db: str = "metering"
    token_env: str = TOKEN_ENV
    min_interval: str = "10s"


def datasources(src: InfluxSource) -> dict[str, Any]:
    def one(uid: str, name: str, database: str) -> dict[str, Any]:
        return {
            "name": name,
            "uid": uid,
            "type": "influxdb",
            "access": "proxy",
            "url": src.url,
            "editable": False,
            "jsonData": {
                "version": "InfluxQL",
                "dbName": database,
                "httpMode": "GET",
                "timeInterval": src.min_interval,
                # InfluxDB 2.x takes the token in this header on its InfluxQL /query endpoint.
                "httpHeaderName1": "Authorization",
            },
            "secureJsonData": {"httpHeaderValue1": "Token ${" + src.token_env + "}"},
        }

    return {
        "apiVersion": 1,
        "datasources": [
            one(sc.RAW_DS_UID, "plantcarbon raw", src.raw_db),
            one(sc.METERING_DS_UID, "plantcarbon metering", src.metering_db),
        ],
    }


def provider(dashboards_path: str) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "plantcarbon",
                "folder": FOLDER_TITLE,
                "folderUid": FOLDER_UID,
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 30,
                "options": {"path": dashboards_path},
            }
        ],
    }


def dashboard_docs(
    plant: Plant, langs: Sequence[Lang] = ("en",), thresholds: Sequence[Threshold] = ()
) -> list[dict[str, Any]]:
    return [to_json(d) for lang in langs for d in build_dashboards(plant, lang, thresholds)]


def write_provisioning(
    plant: Plant,
    out: Path,
    *,
    langs: Sequence[Lang] = ("en",),
    source: InfluxSource = InfluxSource(),
    dashboards_path: str | None = None,
    thresholds: Sequence[Threshold] = (),
) -> list[Path]:
    """Write the datasource file, the provider file and one JSON file per dashboard; return the paths."""
    dash_dir = out / "dashboards"
    ds_dir = out / "provisioning" / "datasources"
    prov_dir = out / "provisioning" / "dashboards"
    for d in (dash_dir, ds_dir, prov_dir):
        d.mkdir(parents=True, exist_ok=True)
    written = []
    for doc in dashboard_docs(plant, langs, thresholds):
        path = dash_dir / f"{doc['uid']}.json"
        path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    ds_file = ds_dir / "plantcarbon.yaml"
    ds_file.write_text(yaml.safe_dump(datasources(source), sort_keys=False), "utf-8")
    prov_file = prov_dir / "plantcarbon.yaml"
    path_in_grafana = dashboards_path or str(dash_dir.resolve())
    prov_file.write_text(yaml.safe_dump(provider(path_in_grafana), sort_keys=False), "utf-8")
    return [ds_file, prov_file, *written]


class PushError(RuntimeError):
    """Grafana refused a folder or a dashboard; the message says which and why."""


def push(
    docs: Sequence[dict[str, Any]],
    url: str,
    token: str,
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    timeout_s: float = 30.0,
) -> list[str]:
    """Upload dashboards into one folder, overwriting by uid; returns the uids pushed."""
    api = GrafanaApi.from_url(url, credential=token, timeout=timeout_s)
    try:
        api.folder.get_folder(folder_uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise PushError(f"Grafana at {url}: folder {folder_uid!r}: {exc}") from exc
        try:
            api.folder.create_folder(folder_title, uid=folder_uid)
        except GrafanaException as exc2:
            raise PushError(f"Grafana at {url}: cannot create folder {folder_uid!r}: {exc2}") from exc2
    except GrafanaException as exc:
        raise PushError(f"Grafana at {url}: {exc}") from exc
    pushed = []
    for doc in docs:
        body = {
            "dashboard": {**doc, "id": None},  # id null + uid: create or update that uid
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "plantcarbon dashboards push",
        }
        try:
            api.dashboard.update_dashboard(body)
        except GrafanaException as exc:
            raise PushError(f"Grafana at {url}: dashboard {doc.get('uid')!r}: {exc}") from exc
        pushed.append(str(doc["uid"]))
    return pushed
