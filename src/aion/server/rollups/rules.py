"""Rollup rules: which streams update which timeseries, read from ``[[rollups]]`` in aion.toml.

Pure parsing and validation; nothing here opens a backend. Example::

    [[rollups]]
    stream = "web."                    # ends with "." : every stream starting with "web."
    namespace = "default"              # default: the server's default namespace
    timeseries = "pageviews.{page}"    # the name, with {field} taken from each event
    type = "count"                     # series | histogram | count | gauge | set
    value = "duration"                 # the event field giving the value; count may omit it
    intervals = { minute = { step = 60, steps = 1440 }, hour = { step = "1h", steps = 720 } }
    backend = "sqlite:///aion-data/rollups.db"   # default: rollups.db in the data directory

Other keys: ``prefix`` (true/false) says whether ``stream`` is a prefix, overriding the
trailing-dot rule (``prefix = true`` with ``stream = ""`` matches every stream of the
namespace); ``name`` identifies the rule's checkpoints (default: built from namespace, stream,
timeseries and type, so changing one of those starts a new rollup from the beginning);
``start`` is ``"earliest"`` (default: every retained event) or ``"latest"`` (only events put
after the rule first runs); ``options`` is passed to the timeseries backend (``prefix`` on
Redis, ``table_name`` or ``value_type`` on SQL).

Every error names the rule by index and the key at fault: ``rollups[2].type: ...``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from aion.core.events import validate_namespace
from aion.errors import AionError, ConfigurationError
from aion.server.config import AionConfig
from aion.timeseries import Kind, parse_intervals

__all__ = [
    "FieldPath",
    "NameTemplate",
    "RollupRule",
    "StartAt",
    "parse_rollups",
    "rollup_rules",
]

_KEYS = frozenset(
    {"name", "stream", "prefix", "namespace", "timeseries", "type", "value", "intervals",
     "backend", "options", "start"}
)  # fmt: skip
_FIELD = re.compile(r"\{([^{}]*)\}")


class StartAt(StrEnum):
    """Where a rule begins on a shard it has no checkpoint for."""

    EARLIEST = "earliest"
    LATEST = "latest"


@dataclass(frozen=True, slots=True)
class FieldPath:
    """An event field: a top-level key, or a dotted path into nested objects.

    A key that itself contains dots (``"user.id"``) wins over the nested path.
    """

    text: str

    def lookup(self, event: Mapping[str, Any]) -> Any:
        """The field's value, or None when the event does not have it."""
        if self.text in event:
            return event[self.text]
        current: Any = event
        for part in self.text.split("."):
            if not isinstance(current, Mapping) or part not in current:
                return None
            current = current[part]
        return current


def _name_part(value: Any) -> str | None:
    """An event value as text inside a timeseries name; None for values that name nothing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value or None
    if isinstance(value, int | float):
        return str(value)
    return None


@dataclass(frozen=True, slots=True)
class NameTemplate:
    """A timeseries name with ``{field}`` placeholders; ``{@stream}`` and ``{@namespace}``
    are the event's stream and namespace."""

    text: str
    literals: tuple[str, ...]
    fields: tuple[FieldPath, ...]

    @classmethod
    def parse(cls, text: str) -> NameTemplate:
        """Split ``text`` into literals and fields, refusing stray or empty braces."""
        literals: list[str] = []
        fields: list[FieldPath] = []
        last = 0
        for match in _FIELD.finditer(text):
            if not match.group(1).strip():
                raise ValueError(f"empty placeholder in {text!r}")
            literals.append(text[last : match.start()])
            fields.append(FieldPath(match.group(1).strip()))
            last = match.end()
        literals.append(text[last:])
        if any("{" in part or "}" in part for part in literals):
            raise ValueError(f"unbalanced braces in {text!r}")
        if not text:
            raise ValueError("the name template is empty")
        return cls(text, tuple(literals), tuple(fields))

    def render(self, event: Mapping[str, Any], namespace: str, stream: str) -> str | None:
        """The name for ``event``, or None when a field is missing or not a scalar."""
        if not self.fields:
            return self.text
        out = [self.literals[0]]
        for path, literal in zip(self.fields, self.literals[1:], strict=True):
            if path.text == "@stream":
                part: str | None = stream
            elif path.text == "@namespace":
                part = namespace
            else:
                part = _name_part(path.lookup(event))
            if part is None:
                return None
            out.append(part)
            out.append(literal)
        return "".join(out)

    def matches(self, name: str) -> bool:
        """Whether ``name`` could have been rendered by this template."""
        pattern = ".+".join(re.escape(part) for part in self.literals)
        return re.fullmatch(pattern, name, re.DOTALL) is not None


@dataclass(frozen=True, slots=True)
class RollupRule:
    """One ``[[rollups]]`` entry, validated."""

    index: int
    name: str
    namespace: str
    stream: str
    prefix: bool
    timeseries: NameTemplate
    type: Kind
    value: FieldPath | None
    intervals: Mapping[str, Mapping[str, Any]]
    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)
    start: StartAt = StartAt.EARLIEST

    def matches(self, namespace: str, stream: str) -> bool:
        """Whether events of ``stream`` in ``namespace`` feed this rule."""
        if namespace != self.namespace:
            return False
        return stream.startswith(self.stream) if self.prefix else stream == self.stream


class _RuleError(Exception):
    """A bad key of one rule; turned into a ConfigurationError naming the rule."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def _text(entry: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = entry.get(key, default)
    if value is None:
        raise _RuleError(key, "is required")
    if not isinstance(value, str):
        raise _RuleError(key, f"must be a string, not {value!r}")
    return value


def _parse_rule(index: int, entry: Any, default_namespace: str, data_dir: Path) -> RollupRule:
    if not isinstance(entry, Mapping):
        raise _RuleError("", "must be a table ([[rollups]])")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise _RuleError(unknown[0], f"unknown key; known keys: {', '.join(sorted(_KEYS))}")
    stream = _text(entry, "stream")
    prefix = entry.get("prefix", stream.endswith("."))
    if not isinstance(prefix, bool):
        raise _RuleError("prefix", f"must be true or false, not {prefix!r}")
    if not prefix and not stream:
        raise _RuleError("stream", "is empty; set prefix = true to match every stream")
    namespace = _text(entry, "namespace", default_namespace)
    try:
        validate_namespace(namespace)
    except AionError as exc:
        raise _RuleError("namespace", str(exc)) from None
    try:
        template = NameTemplate.parse(_text(entry, "timeseries"))
    except ValueError as exc:
        raise _RuleError("timeseries", str(exc)) from None
    raw_type = _text(entry, "type")
    try:
        kind = Kind(raw_type)
    except ValueError:
        raise _RuleError("type", f"{raw_type!r} is not one of {', '.join(Kind)}") from None
    value = entry.get("value")
    if value is not None and (not isinstance(value, str) or not value):
        raise _RuleError("value", f"must be an event field name, not {value!r}")
    if value is None and kind is not Kind.COUNT:
        raise _RuleError("value", f"is required for a {kind} rollup (only count may omit it)")
    intervals = entry.get("intervals")
    if not isinstance(intervals, Mapping) or not intervals:
        raise _RuleError(
            "intervals", "must be a table of named intervals, e.g. {minute = {step = 60}}"
        )
    try:
        parse_intervals(intervals)
    except AionError as exc:
        raise _RuleError("intervals", str(exc)) from None
    backend = _text(entry, "backend", f"sqlite:///{data_dir / 'rollups.db'}")
    options = entry.get("options", {})
    if not isinstance(options, Mapping):
        raise _RuleError("options", f"must be a table, not {options!r}")
    raw_start = _text(entry, "start", StartAt.EARLIEST.value)
    try:
        start = StartAt(raw_start)
    except ValueError:
        raise _RuleError("start", f"must be 'earliest' or 'latest', not {raw_start!r}") from None
    default_name = f"{namespace}/{stream}{'*' if prefix else ''}/{template.text}/{kind}"
    name = _text(entry, "name", default_name)
    return RollupRule(
        index=index,
        name=name,
        namespace=namespace,
        stream=stream,
        prefix=prefix,
        timeseries=template,
        type=kind,
        value=None if value is None else FieldPath(value),
        intervals={str(k): dict(v) for k, v in intervals.items()},
        backend=backend,
        options=dict(options),
        start=start,
    )


def parse_rollups(
    raw: Any, *, default_namespace: str = "default", data_dir: Path = Path("aion-data")
) -> tuple[RollupRule, ...]:
    """Validate the ``rollups`` value of aion.toml (a list of tables, or None)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigurationError("rollups must be an array of tables: [[rollups]]")
    rules: list[RollupRule] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(raw):
        try:
            rule = _parse_rule(index, entry, default_namespace, data_dir)
        except _RuleError as exc:
            where = f"rollups[{index}].{exc.key}" if exc.key else f"rollups[{index}]"
            raise ConfigurationError(f"{where}: {exc}") from None
        if rule.name in seen:
            raise ConfigurationError(
                f"rollups[{index}].name: {rule.name!r} is also rollups[{seen[rule.name]}]'s "
                "name; give one of them a distinct name"
            )
        seen[rule.name] = index
        rules.append(rule)
    return tuple(rules)


def rollup_rules(config: AionConfig) -> tuple[RollupRule, ...]:
    """The rules of a server configuration (``[[rollups]]`` lands in ``config.extra``)."""
    return parse_rollups(
        config.extra.get("rollups"),
        default_namespace=config.default_namespace,
        data_dir=config.data_dir,
    )
