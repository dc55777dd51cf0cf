"""`push` and `build`: the requests grafana-client sends, recorded by a real local HTTP server (no Grafana)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dashboards.provision import FOLDER_UID, PushError, dashboard_docs, push
from plantcarbon.cli import app
from plantcarbon_core.plant import load_plant

PLANT = Path(__file__).resolve().parents[2] / "examples" / "plant-a.yaml"


class Recorder:
    """Answers like Grafana's HTTP API for folders and dashboards, and keeps every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.folders: set[str] = set()
        self.refuse_dashboards = False


@pytest.fixture
def grafana() -> Iterator[tuple[str, Recorder]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> dict[str, Any]:
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(n)) if n else None
            req = {"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"), "body": body}
            rec.requests.append(req)
            return req

        def do_GET(self) -> None:
            self._record()
            uid = self.path.rsplit("/", 1)[-1]
            if self.path.startswith("/api/folders/") and uid in rec.folders:
                self._answer(200, {"uid": uid, "title": "plantcarbon"})
            else:
                self._answer(404, {"message": "folder not found"})

        def do_POST(self) -> None:
            req = self._record()
            if self.path == "/api/folders":
                rec.folders.add(req["body"]["uid"])
                self._answer(200, {"uid": req["body"]["uid"], "title": req["body"]["title"]})
            elif self.path == "/api/dashboards/db" and not rec.refuse_dashboards:
                uid = req["body"]["dashboard"]["uid"]
                self._answer(200, {"status": "success", "uid": uid, "url": f"/d/{uid}"})
            else:
                self._answer(
                    412, {"message": "The dashboard has been changed by someone else", "status": "version-mismatch"}
                )

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", rec
    server.shutdown()
    server.server_close()


def test_push_creates_the_folder_once_and_overwrites_by_uid(grafana: tuple[str, Recorder]) -> None:
    url, rec = grafana
    docs = dashboard_docs(load_plant(PLANT))
    assert push(docs, url, "glsa_secret") == [d["uid"] for d in docs]
    first = list(rec.requests)
    assert [(r["method"], r["path"]) for r in first[:2]] == [
        ("GET", f"/api/folders/{FOLDER_UID}"),
        ("POST", "/api/folders"),
    ]
    assert first[1]["body"] == {"title": "plantcarbon", "uid": FOLDER_UID}
    posts = [r for r in first if r["path"] == "/api/dashboards/db"]
    assert len(posts) == len(docs)
    for r, doc in zip(posts, docs, strict=True):
        assert r["auth"] == "Bearer glsa_secret"
        assert r["body"]["folderUid"] == FOLDER_UID and r["body"]["overwrite"] is True
        assert r["body"]["dashboard"]["uid"] == doc["uid"] and r["body"]["dashboard"]["id"] is None
        assert r["body"]["dashboard"]["panels"] == doc["panels"]
    # A second push finds the folder and posts the same uids again: an update, not a copy.
    rec.requests.clear()
    push(docs, url, "glsa_secret")
    assert not any(r["path"] == "/api/folders" for r in rec.requests)
    assert [r["body"]["dashboard"]["uid"] for r in rec.requests if r["method"] == "POST"] == [d["uid"] for d in docs]


def test_push_names_the_dashboard_grafana_refused(grafana: tuple[str, Recorder]) -> None:
    url, rec = grafana
    rec.refuse_dashboards = True
    docs = dashboard_docs(load_plant(PLANT))
    with pytest.raises(PushError, match=r"dashboard 'pc-plant-a-overview'.*412"):
        push(docs, url, "t")


def test_cli_push_prints_the_dashboard_urls(grafana: tuple[str, Recorder]) -> None:
    url, _ = grafana
    result = CliRunner().invoke(app, ["dashboards", "push", "--plant", str(PLANT), "--url", url, "--token", "t"])
    assert result.exit_code == 0, result.output
    assert f"{url}/d/pc-plant-a-overview" in result.output


def test_cli_push_from_a_build_directory(grafana: tuple[str, Recorder], tmp_path: Path) -> None:
    url, rec = grafana
    runner = CliRunner()
    assert runner.invoke(app, ["dashboards", "build", "--plant", str(PLANT), "--out", str(tmp_path)]).exit_code == 0
    result = runner.invoke(app, ["dashboards", "push", "--from", str(tmp_path), "--url", url, "--token", "t"])
    assert result.exit_code == 0, result.output
    posted = sorted(r["body"]["dashboard"]["uid"] for r in rec.requests if r["path"] == "/api/dashboards/db")
    assert posted == sorted(p.stem for p in (tmp_path / "dashboards").glob("*.json"))
    neither = runner.invoke(app, ["dashboards", "push", "--url", url, "--token", "t"])
    assert neither.exit_code == 2 and "give either --plant or --from" in neither.output


def test_cli_build_writes_provisioning_without_the_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANTCARBON_INFLUX_TOKEN", "super-secret-token")
    result = CliRunner().invoke(
        app, ["dashboards", "build", "--plant", str(PLANT), "--out", str(tmp_path), "--lang", "en", "--lang", "zh"]
    )
    assert result.exit_code == 0, result.output
    ds = yaml.safe_load((tmp_path / "provisioning/datasources/plantcarbon.yaml").read_text())
    by_uid = {d["uid"]: d for d in ds["datasources"]}
    assert by_uid["plantcarbon-raw"]["jsonData"]["dbName"] == "raw"
    assert by_uid["plantcarbon-metering"]["jsonData"]["dbName"] == "metering"
    assert by_uid["plantcarbon-raw"]["secureJsonData"]["httpHeaderValue1"] == "Token ${PLANTCARBON_INFLUX_TOKEN}"
    prov = yaml.safe_load((tmp_path / "provisioning/dashboards/plantcarbon.yaml").read_text())
    assert prov["providers"][0]["options"]["path"] == str((tmp_path / "dashboards").resolve())
    files = sorted(p.name for p in (tmp_path / "dashboards").glob("*.json"))
    assert len(files) == 18 and "pc-plant-a-overview-zh.json" in files
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert "super-secret-token" not in p.read_text("utf-8")


def test_cli_build_rejects_an_unknown_language(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["dashboards", "build", "--plant", str(PLANT), "--out", str(tmp_path), "--lang", "fr"]
    )
    assert result.exit_code == 2
    assert "--lang: must be one of en, zh, got 'fr'" in result.output
