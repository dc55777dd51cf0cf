"""One way to read, validate and report a YAML data file: every mistake as "file: where: field: message"."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

# Data files (plants, profiles, factor sets, tariffs, scenarios) are a few kB to a few hundred;
# a bigger one is a mistake (a log or a dump picked by accident) and would only cost memory.
MAX_BYTES = 4 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One mistake: the file (with line:column for a syntax error), the item, the field, what is wrong."""

    source: str
    message: str
    where: str = ""  # the item, e.g. "devices[3] (id=kiln-2)"; empty for the file as a whole
    field: str = ""  # the field inside it, e.g. "source.port"
    line: int | None = None  # 1-based, for YAML syntax errors
    column: int | None = None

    def __str__(self) -> str:
        head = self.source + (f":{self.line}:{self.column}" if self.line is not None else "")
        return ": ".join(p for p in (head, self.where, self.field, self.message) if p)


class DataFileError(ValueError):
    """A data file that cannot be used; `problems` holds every mistake, `errors` the same as text lines."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(self.errors))

    @property
    def errors(self) -> list[str]:
        return [str(p) for p in self.problems]


def source_name(path: Path) -> str:
    """The name errors use for `path`: the bare name for a file in the working folder, else the path."""
    return str(path.name if path.parent == Path() else path)


def read_text(path: str | Path, max_bytes: int = MAX_BYTES) -> str:
    """The file's text (UTF-8), or a DataFileError naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataFileError([Problem(str(path), f"too large: {size} bytes, at most {max_bytes}")])
        return path.read_text("utf-8")
    except OSError as exc:
        raise DataFileError([Problem(str(path), f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise DataFileError([Problem(str(path), f"not UTF-8 text: {exc.reason} at byte {exc.start}")]) from None


def parse_yaml(text: str, source: str, max_bytes: int = MAX_BYTES) -> Any:
    """The YAML document in `text` (yaml.safe_load), or a DataFileError with the line and column of a syntax error."""
    if len(text) > max_bytes:
        raise DataFileError([Problem(source, f"too large: {len(text)} characters, at most {max_bytes}")])
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        if mark is None:
            raise DataFileError([Problem(source, problem)]) from None
        raise DataFileError([Problem(source, problem, line=mark.line + 1, column=mark.column + 1)]) from None


def parse(
    text: str,
    model: type[M],
    source: str,
    *,
    expect: str | None = None,
    prepare: Callable[[Any], Any] | None = None,
) -> M:
    """Parse YAML `text` and validate it as `model`; `expect` names what the top-level mapping holds.

    `prepare` rewrites the raw document before validation (e.g. expanding `count: N` devices);
    locations in errors refer to the prepared document.
    """
    data = parse_yaml(text, source)
    if expect is not None and not isinstance(data, dict):
        raise DataFileError([Problem(source, f"must be a mapping with {expect}, got {type(data).__name__}")])
    if prepare is not None:
        data = prepare(data)
    return validate(model, data, source)


def load(
    path: str | Path,
    model: type[M],
    *,
    expect: str | None = None,
    prepare: Callable[[Any], Any] | None = None,
    source: str | None = None,
) -> M:
    """Read, parse and validate the file at `path` (see `parse`); errors name it by `source` (default: its name)."""
    path = Path(path)
    return parse(read_text(path), model, source or path.name, expect=expect, prepare=prepare)


def validate(model: type[M], data: Any, source: str, *, prefix: Sequence[str | int] = ()) -> M:
    """`model.model_validate(data)`, or a DataFileError listing every mistake.

    `prefix` is where `data` sits inside the file (e.g. ("carbon",) for the plant file's carbon block).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise DataFileError(problems(exc, data, source, prefix=prefix)) from None


def raise_all(errors: Sequence[str]) -> None:
    """For a model-level check: its mistakes as one ValueError, a line each (`problems` splits them back)."""
    if errors:
        raise ValueError("\n".join(errors))


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar("Item", bound=_HasId)


def by_id(items: Iterable[Item], ident: str) -> Item:
    """The item of a data file's list with this `id` (KeyError naming the id when there is none)."""
    for item in items:
        if item.id == ident:
            return item
    raise KeyError(ident)


def problems(exc: ValidationError, data: Any, source: str, *, prefix: Sequence[str | int] = ()) -> list[Problem]:
    """One Problem per pydantic error; a model-level check that raised several lines gives one Problem per line."""
    out: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = list(err["loc"])
        where, field = locate([*prefix, *loc], data, skip=len(prefix))
        msg = message(err)
        if not where and not field and err["type"] != "value_error":
            field = "(top level)"  # a model-level check speaks for itself; a type error needs a place
        if err["type"] == "value_error" and "\n" in msg:
            out.extend(Problem(source, line, where, field) for line in msg.splitlines())
        else:
            out.append(Problem(source, msg, where, field))
    return out


def locate(loc: Sequence[Any], data: Any, *, skip: int = 0) -> tuple[str, str]:
    """A pydantic `loc` as (item, field), e.g. ('devices', 3, 'source', 'modbus-tcp', 'port') →
    ('devices[3] (id=kiln-2)', 'source.port').

    The item is the outermost list element that carries an `id` in the data (so the reader
    finds it by name as well as by position); `skip` leading parts are a prefix outside `data`.
    A key absent from the data and followed by more parts is a tagged union's tag that
    pydantic inserts (e.g. the protocol of a device's `source`): it is left out.
    """
    parts: list[str] = []
    where = ""
    node: Any = data
    for i, part in enumerate(loc):
        if i < skip:
            parts.append(str(part))
            continue
        if isinstance(part, int):
            parts[-1:] = [f"{parts[-1]}[{part}]"] if parts else [f"[{part}]"]
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            if not where and isinstance(item, dict) and item.get("id"):
                where = f"{'.'.join(parts)} (id={item['id']})"
                parts = []
            node = item
            continue
        if isinstance(node, dict) and part not in node and i < len(loc) - 1:
            continue  # a discriminator tag, not a key of the file
        parts.append(str(part))
        node = node.get(part) if isinstance(node, dict) else None
    return where, ".".join(parts)


def message(err: Any) -> str:
    """A pydantic error as a sentence that says what is allowed and what was given."""
    t = err["type"]
    ctx = err.get("ctx") or {}
    got = _short(err.get("input"))  # a hostile payload may carry megabytes: quote a bounded part
    if t == "missing":
        return "required field is missing"
    if t == "extra_forbidden":
        return f"unknown field (check the spelling), got {got}"
    if t == "literal_error":
        return f"must be one of {ctx.get('expected')}, got {got}"
    if t == "union_tag_invalid":
        return f"{_tag(ctx)} must be one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    if t == "union_tag_not_found":
        return f"{_tag(ctx)} is missing"
    bounds = {
        "greater_than": "must be > {gt}",
        "greater_than_equal": "must be >= {ge}",
        "less_than": "must be < {lt}",
        "less_than_equal": "must be <= {le}",
    }
    if t in bounds:
        return bounds[t].format(**{k: _num(v) for k, v in ctx.items()}) + f", got {got}"
    if t == "value_error":
        return str(ctx.get("error", err["msg"]))
    if t.endswith("_type") or t.endswith("_parsing"):
        return f"{err['msg'].lower()}, got {got}"
    return f"{err['msg']}, got {got}"


def _tag(ctx: dict[str, Any]) -> str:
    return str(ctx.get("discriminator", "tag")).strip("'")


def _num(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 200 else text[:200] + "…"
