"""The storage contract lives in plantcarbon_core/schema.py; this name stays while dashboard modules move."""

from plantcarbon_core.schema import *  # noqa: F403

# direct.source: `product` rows carry the unit's total direct CO2 (fuel + process) and its clinker
# tonnes; the others split it (biogenic is a memo item, never part of the total).
DIRECT_PRODUCT = "product"
DIRECT_SOURCES = ("fuel", "biogenic", "process_clinker", "process_dust", "process_toc")
