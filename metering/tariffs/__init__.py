"""Time-of-use tariffs: tariff files with effective dates, band and price per interval, and cost."""

from metering.tariffs.engine import (
    builtin_tariff_paths,
    classify,
    cost_summary,
    fill_tou_cost,
    interval_cost,
    load_calendar,
    load_tariff,
)
from metering.tariffs.model import (
    BANDS,
    Calendar,
    TariffError,
    TariffFile,
    TariffFileError,
    Version,
    load_calendar_file,
    load_tariff_file,
)

__all__ = [
    "BANDS",
    "Calendar",
    "TariffError",
    "TariffFile",
    "TariffFileError",
    "Version",
    "builtin_tariff_paths",
    "classify",
    "cost_summary",
    "fill_tou_cost",
    "interval_cost",
    "load_calendar",
    "load_calendar_file",
    "load_tariff",
    "load_tariff_file",
]
