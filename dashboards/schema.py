"""The storage contract now lives in core/schema.py; this name stays while dashboard modules move (issue 15)."""

from core.schema import *  # noqa: F403
