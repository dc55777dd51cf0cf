"""Shared query parameters: the site and a time range, validated so bad input is a 422, never a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Query
from pydantic import AwareDatetime

from metering.api.deps import Svc
from plantcarbon_core.wire import ID_PATTERN

MIN_T = datetime(2000, 1, 1, tzinfo=UTC)
MAX_T = datetime(2100, 1, 1, tzinfo=UTC)


def unprocessable(msg: str, loc: list[str]) -> HTTPException:
    return HTTPException(422, [{"loc": loc, "msg": msg, "type": "value_error"}])


def site_param(
    svc: Svc,
    site: Annotated[str | None, Query(pattern=ID_PATTERN, description="Site id; default: the plant's.")] = None,
) -> str:
    if site is not None:
        return site
    if svc.plant is None:
        raise unprocessable("site is required (the service has no plant file)", ["query", "site"])
    return svc.plant.site.id


Site = Annotated[str, Depends(site_param)]


class TimeRange:
    def __init__(
        self,
        start: Annotated[AwareDatetime, Query(description="Start (inclusive), ISO 8601 with offset.")],
        end: Annotated[AwareDatetime, Query(description="End (exclusive), ISO 8601 with offset.")],
    ):
        for name, t in (("start", start), ("end", end)):
            if not MIN_T <= t < MAX_T:
                raise unprocessable("must be between 2000-01-01 and 2100-01-01", ["query", name])
        if end <= start:
            raise unprocessable("end must be after start", ["query", "end"])
        self.start = start.astimezone(UTC)
        self.end = end.astimezone(UTC)


Range = Annotated[TimeRange, Depends()]


def site_tz(svc: Svc) -> str:
    return svc.plant.site.timezone if svc.plant else "UTC"
