"""An InfluxQL query type for grafana-foundation-sdk, which ships none for InfluxDB.

`InfluxQLQuery` implements the SDK's dataquery interface (`cogvariants.Dataquery`) with the
fields Grafana's InfluxDB data source stores for a raw InfluxQL query; `InfluxQL` is its
builder. `register()` tells the SDK's runtime to decode targets of `influxdb` panels with it,
so a dashboard read back with `Dashboard.from_json` keeps its queries typed.

`InfluxAnnotation` is an annotation whose target is an InfluxQL query: the SDK's
`AnnotationTarget` models only Grafana's built-in annotations (limit, matchAny, tags), while
Grafana's InfluxDB plugin reads `target.query` with `textColumn` / `tagsColumn` /
`titleColumn` (public/app/plugins/datasource/influxdb/migrations.ts).

Bad input: `from_json` raises `ValueError` naming any key it does not know, so a round trip
can never silently drop a field.
"""

from __future__ import annotations

import typing
from typing import Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as sdk

PLUGIN = "influxdb"

ResultFormat = Literal["time_series", "table", "logs"]


def _only(data: dict[str, typing.Any], known: set[str], what: str) -> None:
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{what}: unknown field(s) {unknown}")


class InfluxQLQuery(cogvariants.Dataquery):
    """A raw InfluxQL target: what Grafana stores when the query editor is in raw mode."""

    _KEYS: typing.ClassVar[set[str]] = {"refId", "datasource", "query", "rawQuery", "resultFormat", "alias", "hide"}

    def __init__(
        self,
        ref_id: str = "A",
        query: str = "",
        datasource: sdk.DataSourceRef | None = None,
        result_format: ResultFormat = "time_series",
        alias: str | None = None,
        hide: bool | None = None,
    ) -> None:
        self.ref_id = ref_id
        self.query = query
        self.datasource = datasource
        self.result_format = result_format
        self.alias = alias
        self.hide = hide

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"refId": self.ref_id, "query": self.query, "rawQuery": True}
        out["resultFormat"] = self.result_format
        if self.datasource is not None:
            out["datasource"] = self.datasource
        if self.alias is not None:
            out["alias"] = self.alias
        if self.hide is not None:
            out["hide"] = self.hide
        return out

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        _only(data, cls._KEYS, "InfluxQL target")
        if data.get("rawQuery") is not True:
            raise ValueError("InfluxQL target: only raw queries (rawQuery: true) are generated")
        return cls(
            ref_id=data.get("refId", "A"),
            query=data.get("query", ""),
            datasource=sdk.DataSourceRef.from_json(data["datasource"]) if "datasource" in data else None,
            result_format=data.get("resultFormat", "time_series"),
            alias=data.get("alias"),
            hide=data.get("hide"),
        )


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder in the SDK's style: `InfluxQL('SELECT …').ref_id('A').alias('$tag_device')`."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLQuery(query=query)

    def build(self) -> InfluxQLQuery:
        return self._internal

    def ref_id(self, ref_id: str) -> typing.Self:
        self._internal.ref_id = ref_id
        return self

    def datasource(self, ref: sdk.DataSourceRef) -> typing.Self:
        self._internal.datasource = ref
        return self

    def format(self, result_format: ResultFormat) -> typing.Self:
        self._internal.result_format = result_format
        return self

    def alias(self, alias: str) -> typing.Self:
        self._internal.alias = alias
        return self


class InfluxAnnotation(sdk.AnnotationQuery):
    """A dashboard annotation fed by an InfluxQL query (text, tags and title from its columns)."""

    _KEYS: typing.ClassVar[set[str]] = {"name", "datasource", "enable", "hide", "iconColor", "target"}
    _TARGET_KEYS: typing.ClassVar[set[str]] = {
        "refId",
        "query",
        "rawQuery",
        "fromAnnotations",
        "textColumn",
        "tagsColumn",
        "titleColumn",
    }

    def __init__(
        self,
        name: str = "",
        datasource: sdk.DataSourceRef | None = None,
        query: str = "",
        text_column: str = "",
        tags_column: str = "",
        title_column: str = "",
        icon_color: str = "red",
        enable: bool = True,
    ) -> None:
        super().__init__(name=name, datasource=datasource, enable=enable, hide=False, icon_color=icon_color)
        self.built_in = None
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column
        self.title_column = title_column

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "datasource": self.datasource,
            "enable": self.enable,
            "hide": self.hide,
            "iconColor": self.icon_color,
            "target": {
                "refId": "Anno",
                "query": self.query,
                "rawQuery": True,
                "fromAnnotations": True,
                "textColumn": self.text_column,
                "tagsColumn": self.tags_column,
                "titleColumn": self.title_column,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, typing.Any]) -> typing.Self:
        _only(data, cls._KEYS, "InfluxQL annotation")
        target = data.get("target") or {}
        _only(target, cls._TARGET_KEYS, "InfluxQL annotation target")
        return cls(
            name=data.get("name", ""),
            datasource=sdk.DataSourceRef.from_json(data.get("datasource") or {}),
            query=target.get("query", ""),
            text_column=target.get("textColumn", ""),
            tags_column=target.get("tagsColumn", ""),
            title_column=target.get("titleColumn", ""),
            icon_color=data.get("iconColor", "red"),
            enable=data.get("enable", True),
        )


class Annotation(cogbuilder.Builder[sdk.AnnotationQuery]):
    """Builder for `InfluxAnnotation`, accepted wherever the SDK takes an annotation builder."""

    def __init__(self, name: str, datasource: sdk.DataSourceRef, query: str) -> None:
        self._internal = InfluxAnnotation(name=name, datasource=datasource, query=query)

    def build(self) -> sdk.AnnotationQuery:
        return self._internal

    def columns(self, text: str = "", tags: str = "", title: str = "") -> typing.Self:
        self._internal.text_column = text
        self._internal.tags_column = tags
        self._internal.title_column = title
        return self

    def icon_color(self, color: str) -> typing.Self:
        self._internal.icon_color = color
        return self


def register() -> None:
    """Decode `influxdb` targets as `InfluxQLQuery` when the SDK reads a dashboard back."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(identifier=PLUGIN, from_json_hook=InfluxQLQuery.from_json)
    )
