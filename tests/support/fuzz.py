"""Seeded byte-level mutations of a valid payload, for hostile-input tests (the same cases on every run)."""

from __future__ import annotations

import random
from collections.abc import Iterator


def byte_mutations(base: bytes, n: int, seed: int, max_flips: int = 4) -> Iterator[bytes]:
    """`n` copies of `base`, each with 1..`max_flips` bytes replaced by random ones."""
    rng = random.Random(seed)
    for _ in range(n):
        b = bytearray(base)
        for _ in range(rng.randint(1, max_flips)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        yield bytes(b)
