"""Golden hashes of the generated dashboards: one sha256 per dashboard of four plants in both languages.

The plants: examples/plant-a.yaml, the simulator's `small` and `cement` scenarios (as their
history plant files) and the kiln line of simulators/kiln.py (the one with a `carbon:` block).
Nothing here depends on the date: the generator reads only the plant file.

After an intended change to the dashboards, rewrite the file and commit it with the change:
    PYTHONPATH=$PWD python -m tests.dashboards.golden
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from dashboards.provision import dashboard_docs
from plantcarbon_core.plant import Plant, load_plant, parse_plant
from simulators import kiln
from simulators.history import history_plant_yaml
from simulators.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden") / "dashboards.sha256.json"


def golden_plants() -> dict[str, Plant]:
    return {
        "plant-a": load_plant(ROOT / "examples" / "plant-a.yaml"),
        "small": parse_plant(history_plant_yaml(load_scenario("small")), "small"),
        "cement": parse_plant(history_plant_yaml(load_scenario("cement")), "cement"),
        "kiln": parse_plant(kiln.PLANT, "kiln"),
    }


def canonical(doc: dict[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def hashes() -> dict[str, dict[str, str]]:
    """plant → dashboard uid → sha256 of its canonical JSON."""
    return {
        name: {
            doc["uid"]: hashlib.sha256(canonical(doc).encode()).hexdigest() for doc in dashboard_docs(p, ("en", "zh"))
        }
        for name, p in golden_plants().items()
    }


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(hashes(), indent=1, sort_keys=True) + "\n", "utf-8")
    print(f"wrote {GOLDEN}")
