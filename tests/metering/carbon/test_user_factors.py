"""User factor and tariff files saved through the API are what the metering engine uses next."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from metering.carbon.factor_registry import user_factor_dir
from metering.service import Context
from plantcarbon_core.plant import load_plant
from tests.metering.conftest import east_grid_2023

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "plant-a.yaml"

# A user file re-publishing cn-grid-east@2023 with a corrected value (same id and version).
OVERRIDE = east_grid_2023("2023", 0.5123)


def test_factor_saved_in_data_dir_overrides_the_shipped_one(tmp_path: Path) -> None:
    plant = load_plant(EXAMPLE)
    before = Context.load(plant, EXAMPLE.parent, tmp_path).registry
    assert before.lookup("grid-average", region="cn-east", when=date(2023, 6, 1)).value == 0.5500  # MEE/NBS 2023
    user_factor_dir(tmp_path).mkdir(parents=True)
    (user_factor_dir(tmp_path) / "corrections.yaml").write_text(OVERRIDE)
    after = Context.load(plant, EXAMPLE.parent, tmp_path).registry
    f = after.lookup("grid-average", region="cn-east", when=date(2023, 6, 1))
    assert (f.ref, f.value) == ("cn-grid-east@2023", 0.5123)
    # Without a data dir only shipped and plant-file factors count.
    assert Context.load(plant, EXAMPLE.parent).registry.get("cn-grid-east@2023").value == 0.5500
