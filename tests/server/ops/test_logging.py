"""The access log (one line per request, with the namespace) and the JSON and text formats."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest
from fastapi.testclient import TestClient

from aion.server.ops.log_config import ACCESS_LOGGER, JsonFormatter, TextFormatter, log_config
from tests.support.keys import Keys, bearer


def _access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS_LOGGER]


def test_one_access_line_per_request(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    body = {"events": {"s": [{}]}, "namespace": "other"}
    client.post("/1.0/events/put", json=body, headers=bearer(keys.other))
    client.get("/v1/streams?namespace=default&accessKey=secret", headers=bearer(keys.read))
    client.get("/healthz")
    put, streams, health = _access_records(caplog)
    fields = vars(put)
    assert fields["method"] == "POST"
    assert fields["path"] == "/1.0/events/put"
    assert fields["status"] == 200
    assert fields["duration_ms"] >= 0
    assert fields["namespace"] == "other"
    assert fields["key_id"] == keys.other.split("_")[1]
    assert vars(streams)["namespace"] == "default"
    assert "secret" not in streams.getMessage()  # no query string in the log
    assert vars(health)["namespace"] == "-"

    line = json.loads(JsonFormatter().format(put))
    assert line["logger"] == ACCESS_LOGGER
    assert line["level"] == "info"
    assert {k: line[k] for k in ("method", "path", "status", "namespace")} == {
        "method": "POST",
        "path": "/1.0/events/put",
        "status": 200,
        "namespace": "other",
    }
    text = TextFormatter().format(put)
    assert "POST /1.0/events/put 200" in text
    assert "ns=other" in text


def test_refusals_are_logged_too(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    client.post("/v1/ingest/default/s", json=[{}])
    (record,) = _access_records(caplog)
    assert vars(record)["status"] == 401
    assert vars(record)["namespace"] == "default"


def test_json_formatter_includes_extras_and_tracebacks() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("aion.test").makeRecord(
            "aion.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None
        )
        import sys

        record.exc_info = sys.exc_info()
    record.backend = "pg"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed x"
    assert line["backend"] == "pg"
    assert "RuntimeError: boom" in line["exc_info"]
    assert "backend=pg" in TextFormatter().format(record)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_log_config_is_a_valid_dict_config(fmt: str) -> None:
    config = log_config(fmt, "warning")
    assert config["loggers"]["aion"]["level"] == "WARNING"
    formatter = config["formatters"]["aion"]["()"]
    assert formatter.endswith("JsonFormatter" if fmt == "json" else "TextFormatter")
    # Build the handlers without installing them (the test process keeps its logging).
    logging.config.DictConfigurator(config).configure_formatter(config["formatters"]["aion"])
