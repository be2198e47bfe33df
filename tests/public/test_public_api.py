"""``import aion`` is the whole public surface: pinned, light, and every exception in one tree."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import subprocess
import sys

import pytest

import aion
import aion.errors
from aion.errors import AionError

PUBLIC = [
    "AionError",
    "AsyncClient",
    "AsyncShipper",
    "AsyncStreamsClient",
    "AsyncTimeseriesClient",
    "BackendUnavailable",
    "Client",
    "ConfigurationError",
    "ConsumerGroupWorker",
    "Forbidden",
    "HttpSettings",
    "InvalidEventTime",
    "InvalidJson",
    "InvalidRecord",
    "InvalidStreamName",
    "InvalidTimeValue",
    "JsonTooDeep",
    "NamespaceNotAllowed",
    "NotFound",
    "Order",
    "RequestError",
    "ResponseError",
    "SequencePastEnd",
    "SequenceTrimmed",
    "ShardNotFound",
    "Shipper",
    "ShipperConfig",
    "StoreError",
    "StreamNotFound",
    "StreamsClient",
    "TimeLike",
    "Timeseries",
    "TimeseriesClient",
    "Unauthorized",
    "UnknownInterval",
    "ValidationError",
    "__version__",
]

# Raised inside one module and caught there; never reaches a caller.
INTERNAL: set[str] = set()


def test_all_is_pinned() -> None:
    assert aion.__all__ == PUBLIC
    assert sorted(aion.__all__) == aion.__all__


def test_every_public_name_resolves() -> None:
    for name in PUBLIC:
        assert getattr(aion, name) is not None, name
        assert name in dir(aion)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        aion.Nope  # noqa: B018


def test_import_aion_is_light_and_registers_no_exit_hook() -> None:
    script = (
        "import atexit, sys\n"
        "before = atexit._ncallbacks()\n"
        "import aion\n"
        "print(atexit._ncallbacks() - before)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('aion.', 'httpx'))))\n"
        "aion.Shipper\n"
        "print(atexit._ncallbacks() - before > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    hooks, modules, shipper_hooks = done.stdout.splitlines()
    assert hooks == "0"
    assert modules == "['aion.errors', 'aion.version']"
    assert shipper_hooks == "True"  # the shipper registers its exit flush once it is used


def _aion_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(aion.__path__, "aion."):
        # The server defines its own HTTP-answer carriers; the client side must not.
        if info.name.startswith("aion.server") or info.name == "aion.__main__":
            continue
        names.append(info.name)
    return names


def test_every_exception_lives_in_aion_errors() -> None:
    strays = []
    for module_name in _aion_modules():
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if not (inspect.isclass(value) and issubclass(value, BaseException)):
                continue
            if value.__module__ != module_name or f"{module_name}.{name}" in INTERNAL:
                continue
            if module_name != "aion.errors":
                strays.append(f"{module_name}.{name}")
    assert strays == []


def test_the_errors_docstring_draws_every_exception() -> None:
    doc = aion.errors.__doc__ or ""
    for name in aion.errors.__all__:
        error = getattr(aion.errors, name)
        assert issubclass(error, AionError), name
        drawn = re.search(rf"^    (.*── )?{name}\b", doc, re.MULTILINE)
        assert drawn, f"{name} is not drawn in aion.errors' tree"


def test_old_import_paths_still_work() -> None:
    from aion.compat import isstreamer, kairos, samsara, triton
    from aion.compat.pykronos import client as pykronos
    from aion.core import jsonbody, streamlog
    from aion.timeseries import StoreError, UnknownInterval

    assert streamlog.StreamNotFound is aion.StreamNotFound
    assert streamlog.SequenceTrimmed is aion.SequenceTrimmed
    assert jsonbody.JsonTooDeep is aion.JsonTooDeep
    assert (StoreError, UnknownInterval) == (aion.StoreError, aion.UnknownInterval)
    assert triton.KinesisPutManyError is aion.errors.KinesisPutManyError
    assert issubclass(triton.InvalidConfigurationError, aion.ConfigurationError)
    assert samsara.InvalidArgument is aion.errors.InvalidArguement
    assert issubclass(kairos.UnsupportedType, NotImplementedError)
    assert issubclass(isstreamer.ShippingFailed, aion.RequestError)
    assert pykronos.KronosClientError is aion.errors.KronosClientError
