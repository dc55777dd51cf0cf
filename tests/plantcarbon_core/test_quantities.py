"""The quantities registry: names carry their unit; counters are known."""

from plantcarbon_core.quantities import counters, is_counter, quantity, registry


def test_design_quantities_present_with_units() -> None:
    assert quantity("p_kw").unit == "kW"
    assert quantity("e_imp_kwh").kind == "counter"
    assert quantity("vol_nm3").unit == "Nm3"
    assert quantity("output_t").carrier == "production"
    assert not is_counter("p_kw") and is_counter("mass_t")
    assert {"e_imp_kwh", "e_exp_kwh", "vol_nm3", "mass_t", "heat_gj", "output_t"} <= counters()


def test_every_name_ends_in_its_unit() -> None:
    suffix = {
        "kW": "_kw",
        "kWh": "_kwh",
        "kvar": "_kvar",
        "kVA": "_kva",
        "V": "_v",
        "A": "_a",
        "Hz": "_hz",
        "Nm3": "_nm3",
        "Nm3/h": "_nm3h",
        "t": "_t",
        "t/h": "_th",
        "GJ": "_gj",
        "GJ/h": "_gjh",
        "degC": "_c",
        "MPa": "_mpa",
        "kPa": "_kpa",
        "m3": "_m3",
        "m3/h": "_m3h",
        "%": "_pct",
        "kvarh": "_kvarh",
    }
    for q in registry().values():
        if q.unit in suffix:
            assert q.name.endswith(suffix[q.unit]), q.name
