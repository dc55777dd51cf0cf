"""What the dashboards take from the plant file: metered kinds, main meters, reported quantities, sub-meter parents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dashboards import schema as sc
from plantcarbon_core.plant import Device, Plant
from plantcarbon_core.profile import ProfileError, load_profile


def reported_quantities(device: Device) -> list[str]:
    """The quantities a device's meter reports: its profile's registers or its MQTT field map."""
    src = device.source
    if src is None:
        return []
    if src.protocol == "mqtt":
        return list(src.fields)
    try:
        profile = load_profile(src.profile)
    except (ProfileError, FileNotFoundError, KeyError, ValueError):
        return []
    return [r.quantity for r in profile.registers if r.quantity]


@dataclass(frozen=True)
class QuantityPanel:
    """One equipment panel: the quantities it plots (when a device of the kind reports one of them)."""

    key: str  # i18n key of the title
    quantities: tuple[str, ...]
    unit: str
    decimals: int
    row: str  # i18n key of the row


# One panel per group of quantities; a group shows up when a device of the kind reports one of them.
QUANTITY_PANELS: tuple[QuantityPanel, ...] = (
    QuantityPanel("p.power", ("p_kw",), "kwatt", 1, "row.load"),
    QuantityPanel("p.apparent", ("s_kva",), "kvoltamp", 1, "row.load"),
    QuantityPanel("p.reactive", ("q_kvar",), "kvoltampreact", 1, "row.load"),
    QuantityPanel("p.load_pct", ("load_pct",), "percent", 1, "row.load"),
    QuantityPanel("p.running", ("running_bool",), "none", 0, "row.load"),
    QuantityPanel("p.pf", ("pf",), "none", 3, "row.electrical"),
    QuantityPanel("p.voltage", ("v_l1_v", "v_l2_v", "v_l3_v"), "volt", 1, "row.electrical"),
    QuantityPanel("p.voltage_ll", ("v_l12_v", "v_l23_v", "v_l31_v"), "volt", 1, "row.electrical"),
    QuantityPanel("p.current", ("i_l1_a", "i_l2_a", "i_l3_a", "i_n_a"), "amp", 1, "row.electrical"),
    QuantityPanel("p.frequency", ("f_hz",), "hertz", 2, "row.electrical"),
    QuantityPanel("p.thd", ("thd_v_pct", "thd_i_pct"), "percent", 1, "row.electrical"),
    QuantityPanel("p.flow", ("flow_nm3h", "flow_m3h"), "suffix: m³/h", 1, "row.process"),
    QuantityPanel("p.mass_flow", ("flow_th",), "suffix: t/h", 2, "row.process"),
    QuantityPanel("p.heat_rate", ("heat_rate_gjh",), "suffix: GJ/h", 2, "row.process"),
    QuantityPanel("p.temperature", ("temp_c",), "celsius", 1, "row.process"),
    QuantityPanel("p.pressure", ("press_mpa", "press_kpa"), "suffix: MPa", 3, "row.process"),
    QuantityPanel("p.rate", ("rate_th",), "suffix: t/h", 2, "row.process"),
)


def metered_kinds(plant: Plant) -> list[str]:
    """Device kinds with at least one meter, in plant-file order (one equipment dashboard each)."""
    kinds: list[str] = []
    for d in plant.devices:
        if d.source is not None and d.kind not in kinds:
            kinds.append(d.kind)
    return kinds


def main_electric_meters(plant: Plant) -> list[str]:
    return [d.id for d in plant.devices if d.role == "main" and d.carrier == "electricity" and d.source is not None]


def main_meters(plant: Plant) -> list[str]:
    return [d.id for d in plant.devices if d.role == "main"]


def sub_meter_parents(plant: Plant) -> list[str]:
    """Meters that have sub-meters: a breakdown shows their sub-meters and remainder instead."""
    return sorted({d.parent for d in plant.devices if d.parent})


def site_demand_device(plant: Plant) -> str:
    """The demand rows' device tag for the site (the live demand service writes `_site`)."""
    return sc.SITE_TOTAL_DEVICE


def _carbon_block(plant: Plant) -> dict[str, Any]:
    # metering/direct/config.py validates the block; the dashboards only read ids from it.
    return plant.carbon if isinstance(plant.carbon, dict) else {}


def emission_units(plant: Plant) -> list[str]:
    """Ids of the plant's emission units (the `carbon:` block's units): direct-emission panels for these."""
    units = _carbon_block(plant).get("units") or []
    return [str(u["id"]) for u in units if isinstance(u, dict) and "id" in u]


def weighed_devices(plant: Plant) -> list[str]:
    """Meters that weigh a material of the `carbon:` block: their fuel CO2 is in the units' direct
    emissions, so the metering engine's scope 1 rows of these devices must not be added to it."""
    materials = _carbon_block(plant).get("materials") or {}
    found = {
        str(d)
        for m in materials.values()
        if isinstance(m, dict)
        for d in (m.get("devices") or [])
        if isinstance(d, str)
    }
    return sorted(found)
