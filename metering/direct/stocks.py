"""Stock balances per material and month: consumption = opening + receipts − closing, validated.

File columns (CSV or XLSX): material, month (YYYY-MM), opening_t, receipts_t, closing_t,
reference (stock-take or ledger id), entered_by. Bad input: unknown material, a month that is
not YYYY-MM, a negative or non-numeric quantity, the same material and month twice, a balance
that goes negative (closing above opening + receipts). Every mistake is reported at once,
naming file, row and field, and nothing is returned.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from metering.direct.config import CarbonConfig
from metering.direct.tables import InputFileError, number, read_table, write_csv_atomic

STOCK_COLUMNS = ["material", "month", "opening_t", "receipts_t", "closing_t", "reference", "entered_by"]


def parse_stocks(path: str | Path, cfg: CarbonConfig) -> pd.DataFrame:
    return validate_stocks(read_table(path, STOCK_COLUMNS), cfg, str(path))


def read_stock_text(path: str | Path) -> pd.DataFrame:
    """The stored stock file as text cells (+ row); an empty table when there is none yet."""
    if not Path(path).is_file():
        return pd.DataFrame({c: pd.Series(dtype=str) for c in [*STOCK_COLUMNS, "row"]})
    return read_table(path, STOCK_COLUMNS)


def merge_stocks(stored: pd.DataFrame, upload: pd.DataFrame, cfg: CarbonConfig, source: str) -> pd.DataFrame:
    """Stored balances (text) with an upload's rows (text + row) → the text to store, validated.

    The upload is checked on its own (its mistakes name `source` and its rows); its rows replace
    the stored balance of the same material and month (a stock-take given again), the others stay.
    """
    validate_stocks(upload, cfg, source)
    given = set(zip(upload["material"], upload["month"], strict=True))
    kept = stored[[(m, mo) not in given for m, mo in zip(stored["material"], stored["month"], strict=True)]]
    out = pd.concat([kept[STOCK_COLUMNS], upload[STOCK_COLUMNS]], ignore_index=True).sort_values(
        ["month", "material"], kind="stable"
    )
    return out.reset_index(drop=True)


def save_stocks(text: pd.DataFrame, path: str | Path, cfg: CarbonConfig | None = None) -> None:
    """Write the balances (text cells, STOCK_COLUMNS) atomically: never half a file.

    With `cfg`, the written file is read back and validated before it replaces the old one.
    """

    def read_back(tmp: Path) -> None:
        assert cfg is not None
        back = read_table(tmp, STOCK_COLUMNS)
        validate_stocks(back, cfg, str(tmp))
        if not back[STOCK_COLUMNS].equals(text[STOCK_COLUMNS].reset_index(drop=True)):
            raise InputFileError([f"{tmp}: the written stock balances do not read back as they were written"])

    write_csv_atomic(text[STOCK_COLUMNS], path, None if cfg is None else read_back)


def validate_stocks(df: pd.DataFrame, cfg: CarbonConfig, source: str) -> pd.DataFrame:
    """Text cells (+ row) → material, month (Period), opening_t, receipts_t, closing_t, consumed_t, reference, row."""
    errors: list[str] = []
    out: list[dict[str, object]] = []
    seen: dict[tuple[str, str], int] = {}
    for rec in df.to_dict("records"):
        where = f"{source}: row {rec['row']} ({rec['material'] or '?'} {rec['month'] or '?'})"
        bad: list[str] = []
        if rec["material"] not in cfg.materials:
            bad.append(
                f"material: unknown material {rec['material']!r} (plant file materials: {', '.join(cfg.materials)})"
            )
        try:
            month = pd.Period(rec["month"], freq="M")
            if len(rec["month"]) != 7:
                raise ValueError
        except ValueError:
            bad.append(f"month: {rec['month']!r} is not YYYY-MM")
            month = None
        vals: dict[str, float] = {}
        for f in ("opening_t", "receipts_t", "closing_t"):
            v = number(rec[f])
            if v is None:
                bad.append(f"{f}: {rec[f]!r} is not a number (tonnes)")
            elif v < 0:
                bad.append(f"{f}: {v:g} t is negative")
            else:
                vals[f] = v
        if not rec["reference"]:
            bad.append("reference: empty (the stock-take or ledger the figures come from)")
        if len(vals) == 3:
            consumed = vals["opening_t"] + vals["receipts_t"] - vals["closing_t"]
            if consumed < -1e-9:
                bad.append(
                    f"closing_t: the balance goes negative: opening {vals['opening_t']:g} + receipts "
                    f"{vals['receipts_t']:g} − closing {vals['closing_t']:g} = {consumed:g} t"
                )
        key = (rec["material"], rec["month"])
        if key in seen:
            bad.append(f"month: {rec['material']} {rec['month']} already given in row {seen[key]}")
        else:
            seen[key] = int(rec["row"])
        if bad:
            errors.extend(f"{where}: {b}" for b in bad)
            continue
        out.append(
            {
                "material": rec["material"],
                "month": month,
                **vals,
                "consumed_t": vals["opening_t"] + vals["receipts_t"] - vals["closing_t"],
                "reference": rec["reference"],
                "row": int(rec["row"]),
            }
        )
    if errors:
        raise InputFileError(errors)
    cols = ["material", "month", "opening_t", "receipts_t", "closing_t", "consumed_t", "reference", "row"]
    return pd.DataFrame(out, columns=cols)


def chain_warnings(stocks: pd.DataFrame, source: str) -> list[str]:
    """A month's opening that differs from the previous month's closing (a stock adjustment to explain)."""
    warnings = []
    for mat, g in stocks.sort_values("month").groupby("material"):
        prev = None
        for rec in g.to_dict("records"):
            if (
                prev is not None
                and rec["month"] == prev["month"] + 1
                and abs(rec["opening_t"] - prev["closing_t"]) > 1e-6
            ):
                warnings.append(
                    f"{source}: row {rec['row']} ({mat} {rec['month']}): opening_t {rec['opening_t']:g} t differs from "
                    f"{prev['month']} closing {prev['closing_t']:g} t (row {prev['row']})"
                )
            prev = rec
    return warnings
