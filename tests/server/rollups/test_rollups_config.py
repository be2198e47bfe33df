"""Rollup rules: parsing, validation messages, stream matching, name templates, batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from aion.errors import ConfigurationError
from aion.server.config import AionConfig
from aion.server.rollups.batches import build_batch, checkpoint_key
from aion.server.rollups.rules import NameTemplate, StartAt, parse_rollups, rollup_rules
from aion.streams.protocol import StoredRecord
from aion.timeseries import Kind
from tests.support.paths import ROOT

MINUTE = {"minute": {"step": 60}}


def rule(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "stream": "web.",
        "timeseries": "pageviews.{page}",
        "type": "count",
        "intervals": MINUTE,
    }
    base.update(overrides)
    return base


def test_defaults(tmp_path: Path) -> None:
    (parsed,) = parse_rollups([rule()], data_dir=tmp_path)
    assert parsed.prefix is True
    assert parsed.namespace == "default"
    assert parsed.type is Kind.COUNT
    assert parsed.value is None
    assert parsed.backend == f"sqlite:///{tmp_path / 'rollups.db'}"
    assert parsed.start is StartAt.EARLIEST
    assert parsed.name == "default/web.*/pageviews.{page}/count"


def test_from_server_config(tmp_path: Path) -> None:
    config = AionConfig.from_mapping(
        {"default_namespace": "prod", "rollups": [rule(backend="memory://")]}, data_dir=tmp_path
    )
    (parsed,) = rollup_rules(config)
    assert parsed.namespace == "prod"
    assert parsed.backend == "memory://"
    assert rollup_rules(AionConfig.for_data_dir(tmp_path)) == ()


def test_prefix_rules() -> None:
    exact, forced, everything, literal_dot = parse_rollups(
        [
            rule(stream="web"),
            rule(stream="web", prefix=True, name="b"),
            rule(stream="", prefix=True, name="c"),
            rule(stream="odd.", prefix=False, name="d"),
        ]
    )
    assert exact.matches("default", "web") and not exact.matches("default", "web.x")
    assert forced.matches("default", "website")
    assert everything.matches("default", "anything") and not everything.matches("other", "x")
    assert literal_dot.matches("default", "odd.") and not literal_dot.matches("default", "odd.x")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"timeseries": "x", "type": "count", "intervals": MINUTE}, r"rollups\[0\]\.stream: is"),
        (rule(type="average"), r"rollups\[0\]\.type: 'average' is not one of"),
        (rule(type="histogram"), r"rollups\[0\]\.value: is required for a histogram"),
        (rule(intervals={}), r"rollups\[0\]\.intervals: must be a table"),
        (rule(intervals={"m": {"step": "5min"}}), r"rollups\[0\]\.intervals: .*5min"),
        (rule(timeseries="a.{"), r"rollups\[0\]\.timeseries: unbalanced"),
        (rule(timeseries="a.{}"), r"rollups\[0\]\.timeseries: empty placeholder"),
        (rule(colour="red"), r"rollups\[0\]\.colour: unknown key"),
        (rule(prefix="yes"), r"rollups\[0\]\.prefix: must be true or false"),
        (rule(stream=""), r"rollups\[0\]\.stream: is empty"),
        (rule(start="middle"), r"rollups\[0\]\.start: must be 'earliest' or 'latest'"),
        (rule(options=3), r"rollups\[0\]\.options: must be a table"),
        (rule(namespace="bad ns!"), r"rollups\[0\]\.namespace:"),
        (rule(value=""), r"rollups\[0\]\.value: must be an event field"),
        ("nope", r"rollups\[0\]: must be a table"),
    ],
)
def test_errors_name_the_rule_and_key(entry: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        parse_rollups([entry])


def test_second_rule_index_and_duplicate_names() -> None:
    with pytest.raises(ConfigurationError, match=r"rollups\[1\]\.type"):
        parse_rollups([rule(), rule(type="bogus")])
    with pytest.raises(ConfigurationError, match=r"rollups\[1\]\.name: .* rollups\[0\]"):
        parse_rollups([rule(), rule()])
    with pytest.raises(ConfigurationError, match="array of tables"):
        parse_rollups({"stream": "x"})


def test_name_template() -> None:
    template = NameTemplate.parse("hits.{page}.{user.id}.{@stream}")
    event = {"page": "home", "user": {"id": 7}}
    assert template.render(event, "ns", "web.a") == "hits.home.7.web.a"
    assert template.render({"page": "home", "user.id": True}, "ns", "s") == "hits.home.true.s"
    assert template.render({"page": "home"}, "ns", "s") is None
    assert template.render({"page": {"a": 1}, "user": {"id": 1}}, "ns", "s") is None
    assert template.matches("hits.home.7.web.a")
    assert not template.matches("misses.home.7.x")
    assert NameTemplate.parse("{@namespace}").render({}, "ns", "s") == "ns"
    assert NameTemplate.parse("fixed").render({}, "ns", "s") == "fixed"


def _record(seq: int, event: Any, arrival: int = 5 * 10**7) -> StoredRecord:
    data = event if isinstance(event, bytes) else msgspec.json.encode(event)
    return StoredRecord(0, seq, "", data, arrival)


def test_build_batch_uses_event_time_and_skips_unusable_events() -> None:
    (count,) = parse_rollups([rule(value="n")])
    records = [
        _record(1, {"@time": 61 * 10**7, "page": "a"}),  # no n: skipped
        _record(2, {"@time": 61 * 10**7, "page": "a", "n": 2}),
        _record(3, {"page": "b", "n": 1.5}),  # no @time: arrival time
        _record(4, {"@time": 0, "page": "a", "n": "x"}),  # not a number: skipped
        _record(5, b"not json"),
        _record(6, [1, 2]),
    ]
    batch = build_batch(count, "default", "web.x", records)
    assert batch.inserts == {61: {"pageviews.a": [2]}, 5: {"pageviews.b": [1.5]}}
    assert (batch.used, batch.skipped) == (2, 4)
    (plain,) = parse_rollups([rule()])
    assert build_batch(plain, "default", "s", [_record(1, {"page": "a"})]).inserts == {
        5: {"pageviews.a": [1]}
    }


def test_checkpoint_keys_stay_short() -> None:
    (parsed,) = parse_rollups([rule()])
    assert checkpoint_key(parsed, "default", "web.a", 3) == (
        "default/web.*/pageviews.{page}/count|default|web.a|3"
    )
    long = checkpoint_key(parsed, "default", "s" * 2000, 0)
    assert len(long) <= 200
    assert long != checkpoint_key(parsed, "default", "s" * 1999 + "t", 0)


def test_documented_rules_parse_and_every_key_is_documented(tmp_path: Path) -> None:
    import re
    import tomllib

    from aion.server.rollups import rules as rules_module

    doc = (ROOT / "docs" / "timeseries.md").read_text()
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", doc, re.DOTALL) if "[[rollups]]" in b]
    assert blocks
    for block in blocks:
        rules = parse_rollups(tomllib.loads(block)["rollups"], data_dir=tmp_path)
        assert rules
    for key in rules_module._KEYS:
        assert f"| `{key}`" in doc, key
