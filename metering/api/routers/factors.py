"""Emission factors and TOU tariffs: anyone may read them; energy managers add or replace user files (audited).

User files go to `{data_dir}/factors/<name>.yaml` and `{data_dir}/tariffs/<id>.yaml`, are
validated by the same loaders the metering engine uses (errors name the file, factor and
field), and take precedence over the shipped files in these listings.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Body, HTTPException, Query, Response, status
from fastapi import Path as PathParam
from pydantic import ValidationError

from metering.api.deps import EnergyManager, Svc, Viewer
from metering.carbon.factor_registry import (
    Factor,
    FactorFileError,
    FactorNotFound,
    Registry,
    parse_factor_file,
    plant_registry,
    user_factor_dir,
)
from metering.tariffs import (
    TariffError,
    TariffFile,
    TariffFileError,
    builtin_tariff_paths,
    load_tariff,
    load_tariff_file,
)
from plantcarbon_core import datafile
from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.wire import ID_PATTERN

router = APIRouter(prefix="/api/v1", tags=["factors and tariffs"])

FileName = Annotated[str, PathParam(pattern=ID_PATTERN)]


def factor_dir(svc: Svc) -> Path:
    return user_factor_dir(svc.data_dir)


def tariff_dir(svc: Svc) -> Path:
    return svc.data_dir / "tariffs"


def registry(svc: Svc) -> Registry:
    try:
        return plant_registry(svc.plant.metering.factor_files if svc.plant else [], svc.plant_dir, svc.data_dir)
    except FactorFileError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, {"factor_files": exc.errors}) from None


def _factor(f: Factor) -> dict[str, Any]:
    return {"ref": f.ref, **f.model_dump(mode="json", exclude={"parameters"}), "cite": f.source.cite()}


@router.get("/factors", summary="Emission factors (shipped, the plant's files, user files)")
def list_factors(
    _key: Viewer,
    svc: Svc,
    kind: Annotated[str | None, Query(max_length=40)] = None,
    region: Annotated[str | None, Query(max_length=40)] = None,
    carrier: Annotated[str | None, Query(max_length=40)] = None,
) -> list[dict[str, Any]]:
    return [
        _factor(f)
        for f in registry(svc)
        if (kind is None or f.kind == kind)
        and (region is None or f.region == region)
        and (carrier is None or f.carrier == carrier)
    ]


@router.get("/factors/{ref}", summary="One factor by id@version, or id for its newest version")
def get_factor(_key: Viewer, svc: Svc, ref: Annotated[str, PathParam(max_length=120)]) -> dict[str, Any]:
    try:
        return _factor(registry(svc).get(ref))
    except FactorNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.put("/factors/files/{name}", summary="Add or replace a user factor file (same shape as the YAML files)")
def put_factor_file(
    key: EnergyManager, svc: Svc, name: FileName, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    text = yaml.safe_dump(body, allow_unicode=True, sort_keys=False)
    try:
        factors = parse_factor_file(text, source=f"{name}.yaml")
    except FactorFileError as exc:
        raise HTTPException(422, [{"loc": ["body"], "msg": e, "type": "value_error"} for e in exc.errors]) from None
    path = factor_dir(svc) / f"{name}.yaml"
    before = _previous(path)
    with _staged(path, text) as staged:
        parse_factor_file(staged.read_text("utf-8"), source=f"{name}.yaml")  # what the engine will read back
        with svc.store.audited(key.name, "update" if before else "create", "factor", name, before, _jsonable(body)):
            staged.replace(path)
    _factors_changed(svc)
    return {"file": name, "factors": [f.ref for f in factors]}


@router.delete("/factors/files/{name}", status_code=204, summary="Remove a user factor file")
def delete_factor_file(key: EnergyManager, svc: Svc, name: FileName) -> Response:
    path = factor_dir(svc) / f"{name}.yaml"
    if not path.exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user factor file {name!r}")
    with svc.store.audited(key.name, "delete", "factor", name, _previous(path), None):
        path.unlink()
    _factors_changed(svc)
    return Response(status_code=204)


def _factors_changed(svc: Svc) -> None:
    """The alert engine takes the grid factor again (its CO2-rate rules use the files just changed)."""
    if svc.alerts is not None:
        svc.alerts.reload()


def _tariff_ids(svc: Svc) -> list[str]:
    user = {p.stem for p in tariff_dir(svc).glob("*.yaml")}
    return sorted(user | {p.stem for p in builtin_tariff_paths()})


@router.get("/tariffs", summary="TOU tariffs (built-in and user files) with their versions")
def list_tariffs(_key: Viewer, svc: Svc) -> list[dict[str, Any]]:
    out = []
    for tid in _tariff_ids(svc):
        try:
            t = load_tariff(tid, (tariff_dir(svc),))
        except (TariffError, TariffFileError):
            continue
        out.append(
            {
                "id": t.id,
                "name": t.name,
                "region": t.region,
                "customer_class": t.customer_class,
                "currency": t.currency,
                "versions": [v.effective_from.isoformat() for v in t.versions],
                "user_file": (tariff_dir(svc) / f"{tid}.yaml").exists(),
                "in_use": bool(svc.plant and svc.plant.contract.tariff == t.id),
            }
        )
    return out


@router.get("/tariffs/{tariff_id}", summary="One tariff, every version")
def get_tariff(_key: Viewer, svc: Svc, tariff_id: FileName) -> dict[str, Any]:
    try:
        return load_tariff(tariff_id, (tariff_dir(svc),)).model_dump(mode="json")
    except (TariffError, TariffFileError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None


@router.put("/tariffs/{tariff_id}", summary="Add or replace a user tariff file (same shape as the YAML files)")
def put_tariff(
    key: EnergyManager, svc: Svc, tariff_id: FileName, body: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    name = f"{tariff_id}.yaml"
    try:
        t = TariffFile.model_validate(body)
    except ValidationError as exc:
        raise HTTPException(
            422,
            [
                {"loc": ["body", *e["loc"]], "msg": str((e.get("ctx") or {}).get("error", e["msg"])), "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ],
        ) from None
    if t.id != tariff_id:
        raise HTTPException(422, [{"loc": ["body", "id"], "msg": f"must equal {tariff_id!r}", "type": "value_error"}])
    path = tariff_dir(svc) / name
    before = _previous(path)
    with _staged(path, yaml.safe_dump(t.model_dump(mode="json"), allow_unicode=True, sort_keys=False)) as staged:
        try:
            load_tariff_file(staged)  # what the engine will read back
        except (TariffError, TariffFileError) as exc:
            raise HTTPException(422, [{"loc": ["body"], "msg": str(exc), "type": "value_error"}]) from None
        with svc.store.audited(
            key.name, "update" if before else "create", "tariff", tariff_id, before, _jsonable(body)
        ):
            staged.replace(path)
    return t.model_dump(mode="json")


def _previous(path: Path) -> dict[str, Any] | None:
    """The file being replaced, as JSON for the audit row (YAML dates become ISO strings)."""
    if not path.exists():
        return None
    text = path.read_text("utf-8")
    try:
        doc = datafile.parse_yaml(text, path.name)
    except DataFileError:  # not YAML (or too large): the audit row keeps the text
        doc = None
    # A file edited by hand may not be a mapping; keep its text so the audit row still shows it.
    return _jsonable(doc) if isinstance(doc, dict) else {"text": text}


@contextmanager
def _staged(path: Path, text: str) -> Iterator[Path]:
    """`text` written beside `path` under the same file name, for checking before an atomic replace.

    The file is replaced only by the caller (Path.replace: atomic on one filesystem), so a
    request that fails anywhere leaves the old file as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # A hidden sub-directory: loaders glob `*.yaml` in the directory itself only.
    with tempfile.TemporaryDirectory(prefix=".staging-", dir=path.parent) as tmp:
        staged = Path(tmp) / path.name
        staged.write_text(text, "utf-8")
        yield staged


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_jsonable(v) for v in x]
    if isinstance(x, dt.date | dt.datetime):
        return x.isoformat()
    return x
