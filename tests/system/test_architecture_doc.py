"""docs/architecture.md names modules by path: every one it names exists, so the map cannot
drift from the tree unnoticed when a module moves."""

from __future__ import annotations

import re

from tests.support.paths import ROOT

PACKAGE = ROOT / "src" / "aion"
DOC = ROOT / "docs" / "architecture.md"
_NAMED = re.compile(r"`([\w./*-]+(?:\.py|\.md|\.toml|/))`")


def named_paths(text: str) -> list[str]:
    """The file and folder paths a document names in backticks (``server/app.py``,
    ``streams/backends/``, ``tests/...``), without placeholders such as ``<family>``."""
    return sorted(set(_NAMED.findall(text)))


def exists(name: str) -> bool:
    """Whether ``name`` is a path in the package or the repository (a folder when it ends
    with ``/``); a bare module name (``sync.py``) must exist somewhere in the package or at the
    top of the repository. ``*`` matches as in a glob."""
    pattern = name.rstrip("/")
    if "/" in pattern:
        found = [path for base in (PACKAGE, ROOT) for path in base.glob(pattern)]
    else:
        found = [*PACKAGE.rglob(pattern), *ROOT.glob(pattern)]
    return any(path.is_dir() or not name.endswith("/") for path in found)


def test_the_paths_it_names_exist() -> None:
    names = named_paths(DOC.read_text(encoding="utf-8"))
    assert len(names) > 40  # the document names modules by path
    assert [name for name in names if not exists(name)] == []


def test_every_package_docstring_says_what_the_folder_holds() -> None:
    thin = []
    for init in sorted(PACKAGE.rglob("__init__.py")):
        text = init.read_text(encoding="utf-8")
        docstring = re.match(r'\s*(?:#[^\n]*\n\s*)*[rb]?"""(.*?)"""', text, flags=re.S)
        if docstring is None or len(docstring.group(1).split()) < 20:
            thin.append(str(init.relative_to(ROOT)))
    assert thin == []
