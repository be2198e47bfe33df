"""Tenants stay apart: rollup rules and their data, the dashboard's namespace list and the
errors for a namespace the server does not serve show a key its own namespace only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from aion.cli.main import app as cli_app
from aion.server.app import create_app
from aion.server.config import AionConfig
from aion.server.ops.auth_rules import Scope
from aion.server.ops.keys import KeyStore
from tests.support.keys import bearer
from tests.support.live import serve

T0 = 1_800_000_000
TICKS = 10_000_000


@dataclass(frozen=True)
class Tenants:
    url: str
    a: str  # read and write in namespace "a"
    b: str  # read and write in namespace "b"
    root: str  # admin of every namespace


def _rule(namespace: str) -> dict[str, object]:
    return {
        "name": f"views-{namespace}",
        "namespace": namespace,
        "stream": "web",
        "timeseries": f"views.{namespace}",
        "type": "count",
        "intervals": {"minute": {"step": 60}},
        "backend": "memory://",
    }


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenants]:
    data = tmp_path_factory.mktemp("tenants")
    raw = {"namespaces": ["a", "b", "default"], "rollups": [_rule("a"), _rule("b")]}
    store = KeyStore(data)
    a = store.create("a", frozenset({Scope.READ, Scope.WRITE}))[1]
    b = store.create("b", frozenset({Scope.READ, Scope.WRITE}))[1]
    root = store.create("*", frozenset({Scope.ADMIN}))[1]
    app = create_app(AionConfig.from_mapping(raw, data_dir=data))
    with serve(app) as url:
        for namespace, key in (("a", a), ("b", b)):
            events = [{"@time": (T0 + i) * TICKS} for i in range(5)]
            put = {"events": {"web": events}, "namespace": namespace}
            assert httpx.post(url + "/1.0/events/put", json=put, headers=bearer(key)).is_success
        deadline = time.monotonic() + 60
        while True:
            listing = httpx.get(
                url + "/v1/timeseries", params={"namespace": "a"}, headers=bearer(a)
            ).json()["rollups"]
            if listing and listing[0]["stats"]["events"] == 5:
                break
            assert time.monotonic() < deadline, listing
            time.sleep(0.05)
        yield Tenants(url, a, b, root)


def _get(t: Tenants, path: str, key: str, **params: str) -> httpx.Response:
    return httpx.get(t.url + path, params=params, headers=bearer(key))


def test_a_key_lists_only_its_namespaces_rules(tenants: Tenants) -> None:
    listing = _get(tenants, "/v1/timeseries", tenants.a, namespace="a").json()["rollups"]
    assert [r["rule"] for r in listing] == ["views-a"]
    assert listing[0]["names"] == ["views.a"]
    assert "views-b" not in _get(tenants, "/v1/timeseries", tenants.a, namespace="a").text


def test_reading_another_namespace_is_403(tenants: Tenants) -> None:
    for path in ("/v1/timeseries", "/v1/timeseries/views.b", "/v1/timeseries/views.b/series"):
        refused = _get(tenants, path, tenants.a, namespace="b")
        assert refused.status_code == 403, path
        assert refused.json()["error"]["type"] == "Forbidden"


def test_another_namespaces_timeseries_is_unknown_in_ones_own(tenants: Tenants) -> None:
    for path in ("/v1/timeseries/views.b", "/v1/timeseries/views.b/series"):
        answer = _get(tenants, path, tenants.a, namespace="a")
        assert answer.status_code == 404, path
        named = _get(tenants, path, tenants.a, namespace="a", rule="views-b")
        assert named.status_code == 404, path
    own = _get(tenants, "/v1/timeseries/views.a/series", tenants.a, namespace="a",
               start=str(T0), end=str(T0 + 59))  # fmt: skip
    assert own.status_code == 200
    assert own.json()["datapoints"][0][0] == 5


def test_an_all_namespace_key_reads_each_namespace_by_name(tenants: Tenants) -> None:
    for namespace in ("a", "b"):
        listing = _get(tenants, "/v1/timeseries", tenants.root, namespace=namespace).json()
        assert [r["rule"] for r in listing["rollups"]] == [f"views-{namespace}"]


def test_the_cli_reads_one_namespace(tenants: Tenants) -> None:
    runner = CliRunner()
    common = ["--url", tenants.url, "--api-key", tenants.a]
    listed = runner.invoke(cli_app, ["ts", "list", *common, "--namespace", "a"])
    assert listed.exit_code == 0, listed.output
    assert "views-a" in listed.output
    assert "views-b" not in listed.output
    refused = runner.invoke(cli_app, ["ts", "get", "views.b", *common, "--namespace", "b"])
    assert refused.exit_code != 0
    assert "403" in refused.output


def test_the_dashboard_offers_a_key_its_own_namespace_only(tenants: Tenants) -> None:
    offered = _get(tenants, "/ui/api/namespaces", tenants.a).json()
    assert offered == {"default": "a", "namespaces": ["a"], "open": False}
    everything = _get(tenants, "/ui/api/namespaces", tenants.root).json()
    assert everything["namespaces"] == ["a", "b", "default"]
    assert _get(tenants, "/ui/api/streams", tenants.a, namespace="a").status_code == 200
    assert _get(tenants, "/ui/api/streams", tenants.a, namespace="b").status_code == 403


@pytest.mark.parametrize(
    ("path", "shape"),
    [("/v1/streams", "native"), ("/v1/timeseries", "native"), ("/ui/api/streams", "native"),
     ("/1.0/streams", "kronos")],
)  # fmt: skip
def test_an_unserved_namespace_is_refused_without_listing_the_others(
    tenants: Tenants, path: str, shape: str
) -> None:
    if shape == "kronos":
        answer = httpx.post(tenants.url + path, json={"namespace": "zzz"},
                            headers=bearer(tenants.root))  # fmt: skip
    else:
        answer = _get(tenants, path, tenants.root, namespace="zzz")
    assert answer.status_code == 400, answer.text
    assert "zzz" in answer.text
    for other in ('"a"', "'a'", '"b"', "'b'", "default"):
        assert other not in answer.text, answer.text


def test_without_keys_the_list_shows_the_named_namespace(tmp_path: Path) -> None:
    # No keys at all: the default namespace's rules only, unless another is named.
    raw = {"rollups": [_rule("a")]}
    app = create_app(AionConfig.from_mapping(raw, data_dir=tmp_path))
    with serve(app) as url:
        assert httpx.get(url + "/v1/timeseries").json()["rollups"] == []
        named = httpx.get(url + "/v1/timeseries", params={"namespace": "a"}).json()
        assert [r["rule"] for r in named["rollups"]] == ["views-a"]
