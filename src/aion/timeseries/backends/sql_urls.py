"""SQL URLs as Kairos users wrote them, mapped onto the drivers Aion installs.

Kairos took any SQLAlchemy URL, and its README shows ``postgresql://`` and
``mysql+mysqldb://``. Aion installs psycopg 3 (``aion[postgres]``) and PyMySQL (``aion[sql]``),
not psycopg2 or mysqlclient, and SQLAlchemy 2 no longer knows the ``postgres://`` spelling.
So :func:`sql_url` rewrites the dialect and driver part of a URL:

============================== ==============================================================
given                          used
============================== ==============================================================
``postgres://``                ``postgresql://``, then as below
``postgresql://``              ``postgresql+psycopg://`` (psycopg2 if only that is installed)
``postgresql+psycopg2://``     itself if psycopg2 is installed, else ``postgresql+psycopg://``
``mysql://``, ``mariadb://``   ``+mysqldb`` if mysqlclient is installed, else ``+pymysql``
``mysql+mysqldb://``           itself if mysqlclient is installed, else ``mysql+pymysql://``
============================== ==============================================================

When neither driver is installed the error names the package to install. Other URLs pass
through unchanged. Pure apart from looking up which driver modules are importable.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from aion.errors import ConfigurationError

__all__ = ["sql_url"]

# dialect -> (the classic DBAPI driver and its module, Aion's driver and its module, extra)
_FAMILIES: dict[str, tuple[str, str, str, str, str]] = {
    "postgresql": ("psycopg2", "psycopg2", "psycopg", "psycopg", "aion[postgres]"),
    "mysql": ("mysqldb", "MySQLdb", "pymysql", "pymysql", "aion[sql]"),
    "mariadb": ("mysqldb", "MySQLdb", "pymysql", "pymysql", "aion[sql]"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def sql_url(url: str, installed: Callable[[str], bool] = _installed) -> str:
    """``url`` with its dialect and driver mapped onto an installed driver (see the module)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    dialect, plus, driver = scheme.partition("+")
    dialect = dialect.lower()
    if dialect == "postgres":
        dialect = "postgresql"
    family = _FAMILIES.get(dialect)
    if family is None:
        return url
    classic, classic_module, ours, our_module, extra = family
    driver = driver.lower()
    if plus and driver not in (classic, ours):
        return f"{dialect}+{driver}://{rest}"  # another driver, named on purpose: as given
    # Without a driver, SQLAlchemy's own default for MySQL is mysqlclient; psycopg 3 is
    # preferred for PostgreSQL (it is SQLAlchemy 2.1's default and what Aion installs).
    preferred = [ours, classic] if dialect == "postgresql" else [classic, ours]
    if driver:
        preferred = [driver, ours if driver == classic else classic]
    modules = {classic: classic_module, ours: our_module}
    for candidate in preferred:
        if installed(modules[candidate]):
            return f"{dialect}+{candidate}://{rest}"
    raise ConfigurationError(
        f"no driver for {scheme}:// URLs is installed: pip install '{extra}' "
        f"(Aion uses {our_module} for {dialect})"
    )
