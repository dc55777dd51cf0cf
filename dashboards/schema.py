"""The storage contract lives in plantcarbon_core/schema.py; this name stays while dashboard modules move."""

from plantcarbon_core.schema import *  # noqa: F403
