"""Label columns as pandas categoricals: build, compare, concatenate without per-row strings (pure).

The energy and emissions tables hold millions of rows of a few labels (site, device, carrier…);
these helpers keep them categorical end to end, which is what keeps the engine fast.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_category(col: pd.Series) -> pd.Series:
    return col if isinstance(col.dtype, pd.CategoricalDtype) else col.astype("category")


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-wise concat that keeps label columns categorical (plain concat falls back to per-row strings)."""
    cols: dict[str, pd.Series] = {}
    for c in frames[0].columns:
        parts = [f[c] for f in frames]
        if any(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            cats: dict[str, None] = {}
            for p in parts:
                values = p.cat.categories if isinstance(p.dtype, pd.CategoricalDtype) else pd.unique(p)
                cats.update(dict.fromkeys(str(v) for v in values))
            dtype = pd.CategoricalDtype(list(cats))
            parts = [p.astype(dtype) for p in parts]
        cols[c] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(cols)


def const_column(value: str, n: int) -> pd.Categorical:
    """A column holding one label, as a categorical (no per-row string objects)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=pd.Index([value]))  # type: ignore[return-value]


def equals(col: pd.Series, value: str) -> np.ndarray:
    """Boolean array `col == value`, cheap for categorical columns (compares codes)."""
    c = as_category(col)
    cats = list(map(str, c.cat.categories))
    if value not in cats:
        return np.zeros(len(c), dtype=bool)
    return np.asarray(c.cat.codes.to_numpy() == cats.index(value))


def label_array(col: pd.Series) -> np.ndarray:
    """A label column as a numpy array of str objects, built from the categories (not per row)."""
    c = as_category(col)
    cats = np.array([str(x) for x in c.cat.categories] + [""], dtype=object)
    return np.asarray(cats[c.cat.codes.to_numpy()])


def empty_frame(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
