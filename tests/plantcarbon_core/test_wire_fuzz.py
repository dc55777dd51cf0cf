"""Property-based fuzzing of `decode_batch`: it returns a batch or raises `WireError` — nothing else.

Inputs are built from JSON-shaped documents close to a valid batch (so the fuzzer reaches
the deep checks) as well as arbitrary JSON and bytes; a failure prints the shrunk payload.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plantcarbon_core.wire import RESERVED_NAMES, WireError, decode_batch

# Any JSON scalar, including ones the contract refuses: huge integers, bools, null, strings.
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**420),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
)
names = st.one_of(st.sampled_from(["p_kw", "e_imp_kwh", "pf", *sorted(RESERVED_NAMES)]), st.text(max_size=10))
samples = st.fixed_dictionaries(
    {
        "ts": st.one_of(st.integers(9 * 10**11, 5 * 10**12), json_values),
        "values": st.one_of(st.dictionaries(names, scalars, max_size=4), json_values),
    },
    optional={"bad": st.dictionaries(names, st.one_of(st.text(max_size=5), json_values), max_size=2)},
)
near_batches = st.fixed_dictionaries(
    {
        "schema": st.sampled_from(["pc.readings/1", "pc.readings/2"]) | json_values,
        "edge": st.sampled_from(["edge-01", "Edge-1", ""]) | json_values,
        "device": st.sampled_from(["tr-01", "x" * 70]) | json_values,
        "seq": st.one_of(st.integers(), json_values),
        "samples": st.lists(samples, max_size=4) | json_values,
    },
    optional={"extra": json_values},
)


def decodes_or_refuses(payload: bytes) -> None:
    try:
        batch = decode_batch(payload)
    except WireError as exc:
        assert exc.reason and str(exc)
        return
    # What passes is what the contract promises downstream.
    assert 0 <= batch.seq < 2**63 and batch.samples
    for s in batch.samples:
        assert all(type(v) is float for v in s.values.values())
        assert not (set(s.values) | set(s.bad)) & RESERVED_NAMES


FUZZ = settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(near_batches)
def test_near_valid_batches(doc: dict[str, object]) -> None:
    decodes_or_refuses(json.dumps(doc).encode())


@FUZZ
@given(json_values)
def test_any_json(doc: object) -> None:
    decodes_or_refuses(json.dumps(doc).encode())


@FUZZ
@given(st.binary(max_size=300))
def test_any_bytes(data: bytes) -> None:
    decodes_or_refuses(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 200_000), st.sampled_from(["[", '{"a":']))
def test_deep_nesting(depth: int, opener: str) -> None:
    decodes_or_refuses((opener * depth).encode())
