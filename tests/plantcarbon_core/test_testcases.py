"""Golden cases (tests/plantcarbon_core/testcases/): meter register images decoded to values, bad plant files to error lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from edge.plan import plan_reads
from edge.values import decode_blocks
from plantcarbon_core.datafile import DataFileError
from plantcarbon_core.plant import Ratios, Workarounds, parse_plant
from plantcarbon_core.profile import load_profile

CASES = Path(__file__).with_name("testcases")


def cases(kind: str) -> list[Path]:
    found = sorted(p for p in (CASES / kind).iterdir() if p.is_dir())
    assert found, f"no golden cases in {CASES / kind}"
    return found


@pytest.mark.parametrize("case", cases("meter_profiles"), ids=lambda p: p.name)
def test_meter_profile_decodes_the_register_image(case: Path) -> None:
    given: dict[str, Any] = yaml.safe_load((case / "input.yaml").read_text("utf-8"))
    want: dict[str, Any] = yaml.safe_load((case / "expected.yaml").read_text("utf-8"))
    profile = load_profile(given["profile"])
    image = {table: {int(a): int(w, 16) for a, w in words.items()} for table, words in given["registers"].items()}
    # What the edge reads: its planned blocks, answered from the image (a gap reads 0).
    answers = {
        b: [image.get(b.table, {}).get(b.start + i, 0) for i in range(b.count)]
        for b in plan_reads(profile, Workarounds())
    }
    values, bad = decode_blocks(profile, answers, Ratios(**given.get("ratios", {})))
    assert values == pytest.approx(want["values"], rel=1e-9)
    assert bad == want.get("bad", {})


@pytest.mark.parametrize("case", cases("plant_errors"), ids=lambda p: p.name)
def test_bad_plant_file_gives_the_expected_error_lines(case: Path) -> None:
    with pytest.raises(DataFileError) as info:
        parse_plant((case / "plant.yaml").read_text("utf-8"), source="plant.yaml")
    assert info.value.errors == (case / "errors.txt").read_text("utf-8").splitlines()
