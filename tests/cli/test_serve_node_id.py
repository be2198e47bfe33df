"""``aion serve --node-id`` (or ``$AION_NODE_ID``) names one server of a cluster that shares
one config file: its Kronos ``index`` id and the ``server`` label of its metrics."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.procs import running_server


@pytest.mark.timeout(60)
def test_node_id_from_the_environment_overrides_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aion.toml"
    config.write_text('node_id = "from-the-file"\n', encoding="utf-8")
    monkeypatch.setenv("AION_NODE_ID", "aion-2")
    with running_server(tmp_path / "data", config=config) as url:
        index = httpx.get(f"{url}/1.0/index").json()
        metrics = httpx.get(f"{url}/metrics").text
    assert index["id"] == "aion-2"
    assert 'aion_build_info{server="aion-2",' in metrics
