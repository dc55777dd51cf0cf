"""The register as the plant file gives it: one entry per metered device and per lab analysis of the carbon method.

What the plant file and the meter profiles say fills the entry (model, manufacturer, location,
place, carrier, the class the model's datasheet gives, from profile_classes.yaml); what they
cannot say (serial, calibration, certificate, owner) stays empty and the entry lists it as missing.
A plant file whose carbon block does not validate gives the devices only (the block's errors are
reported where the block is used).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

from metering.direct.config import FUEL_KINDS, CarbonConfig, carbon_config
from metering.direct.method import Method
from metering.register.accuracy import Instrument, Place, place_of, user_class
from metering.register.model import Entry
from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.plant import Device, ModbusRtuSource, ModbusTcpSource, Plant
from plantcarbon_core.profile import ProfileError, find_profile

CLASSES_FILE = Path(__file__).with_name("profile_classes.yaml")
_FUEL_CARRIERS = ("coal", "natural_gas", "diesel")

# What a device measures, by carrier, when no material names it.
_KIND_BY_CARRIER: dict[str, Instrument] = {
    "electricity": "electricity_meter",
    "natural_gas": "gas_flow",
    "steam": "steam_flow",
    "heat": "steam_flow",
    "water": "water_flow",
    "diesel": "oil_flow",
    "coal": "weigher",
    "production": "weigher",
}
_PARAMETER_BY_CARRIER = {
    "electricity": "active energy (kWh)",
    "natural_gas": "gas volume at standard conditions (Nm3)",
    "steam": "steam (t)",
    "heat": "heat (GJ)",
    "water": "water (m3)",
    "diesel": "fuel (t)",
    "coal": "mass (t)",
    "production": "mass (t)",
}


@cache
def profile_classes(path: Path = CLASSES_FILE) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(path.read_text("utf-8"))
    out: dict[str, dict[str, Any]] = doc["profiles"]
    return out


def carbon_of(plant: Plant) -> tuple[CarbonConfig, Method] | None:
    if plant.carbon is None:
        return None
    try:
        return carbon_config(plant)
    except DataFileError:
        return None


def weighed_materials(plant: Plant) -> dict[str, list[str]]:
    """Device id → the carbon block's materials it weighs."""
    out: dict[str, list[str]] = {}
    cc = carbon_of(plant)
    if cc is not None:
        for mid, mat in cc[0].materials.items():
            for d in mat.devices:
                out.setdefault(d, []).append(mid)
    return out


def device_entry(plant: Plant, d: Device, materials: list[str], fuel_materials: set[str] | None = None) -> Entry:
    profile_id = d.source.profile if isinstance(d.source, ModbusTcpSource | ModbusRtuSource) else None
    fuel = d.carrier in _FUEL_CARRIERS or any(m in (fuel_materials or set()) for m in materials)
    kind: Instrument = "weigher" if materials else _KIND_BY_CARRIER.get(d.carrier, "weigher")
    known = profile_classes().get(profile_id or "", {})
    if known.get("instrument") != kind:
        known = {}  # the profile's datasheet class is for another kind of instrument than this device is
    manufacturer = model = ""
    if profile_id is not None:
        try:
            p = find_profile(profile_id)
            manufacturer, model = p.manufacturer, p.model
        except ProfileError:
            pass  # an unknown profile is the plant file's error, reported by `plantcarbon check`
    # Energy made and used inside the fence (steam from the site's boiler) does not cross the unit's
    # boundary: its main meter is a secondary unit's, not 进出用能单位.
    place: Place = "sub" if d.role == "main" and d.id in plant.internal_transfers() else place_of(d.role, d.kind)
    # A transformer's rating is its apparent power (core/kinds.yaml rated_in kVA): the user class follows it.
    kva = d.rated_kw if d.kind == "transformer" else None
    parameter = ", ".join(f"{m} mass (t)" for m in materials) or _PARAMETER_BY_CARRIER.get(d.carrier, d.carrier)
    return Entry(
        id=d.id,
        site=plant.site.id,
        source="device",
        device=d.id,
        name=d.name,
        instrument=kind,
        parameter=parameter,
        carrier=d.carrier,
        place=place,
        profile=profile_id,
        manufacturer=manufacturer,
        model=model,
        location=d.area,
        accuracy_class=str(known.get("class") or ""),
        class_source=str(known.get("source") or "") if known.get("class") else "",
        user_class=user_class(kva) if kind == "electricity_meter" and place == "in_out" else None,
        weighing=known.get("weighing") or ("dynamic" if kind == "weigher" else None),
        fuel=fuel,
    )


def lab_id(material: str, parameter: str) -> str:
    return f"lab-{material}-{parameter}".replace("_", "-")[:63]


def lab_entries(plant: Plant) -> list[Entry]:
    """One entry per analysed parameter of each material the emission units use (dust is a record, not an analysis)."""
    cc = carbon_of(plant)
    if cc is None:
        return []
    cfg, method = cc
    out: list[Entry] = []
    for mid, mat in cfg.materials.items():
        if mat.kind == "dust" or mat.kind not in method.materials:
            continue
        for pname, p in method.materials[mat.kind].parameters.items():
            out.append(
                Entry(
                    id=lab_id(mid, pname),
                    site=plant.site.id,
                    source="lab_method",
                    name=f"{p.name} ({mid})",
                    instrument="lab_method",
                    parameter=f"{mid}.{pname} ({p.unit})",
                    location="laboratory",
                    model=p.standard or "",
                    class_source=f"method {method.ref}" if p.standard else "",
                )
            )
    return out


def seed(plant: Plant) -> list[Entry]:
    """Every metered device of the plant file and every lab analysis of its carbon method, in file order."""
    mats = weighed_materials(plant)
    cc = carbon_of(plant)
    fuels = {m for m, mat in cc[0].materials.items() if mat.kind in FUEL_KINDS} if cc else set()
    devices = [device_entry(plant, d, mats.get(d.id, []), fuels) for d in plant.devices if d.source is not None]
    return devices + lab_entries(plant)
