"""The docs are tests: every code block of README.md and docs/*.md runs, in order, as written.

Each document gets live servers and a fresh directory (see tests/support/docrun.py); Python
blocks share one namespace, shell blocks run in bash with the venv's ``aion`` on the PATH,
config blocks are parsed (and loaded, when they are an Aion config), and a ```text block or
``# {...}`` comment after a block is checked against what it printed.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from contextlib import ExitStack
from pathlib import Path

import pytest

from aion.server.config import AionConfig
from tests.support import balancer_configs
from tests.support.balancer_configs import check_balancer_config
from tests.support.docblocks import Block, DocError, expected_matches, parse
from tests.support.docrun import DocRun, split_shell
from tests.support.paths import ROOT
from tests.support.settings import toml_keys

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

NOT_RUN = 1
"""Blocks marked ``<!-- not-run: reason -->`` over every doc; each one is a block a reader
cannot check by running the suite, so the number only goes down."""


def _blocks(doc: Path) -> list[Block]:
    return parse(doc.read_text(encoding="utf-8"))


@pytest.mark.timeout(120)
# A script may end without closing its clients: the process exit would reclaim them.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.parametrize("doc", DOCS, ids=lambda doc: doc.name)
def test_doc_runs_as_written(doc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("AION_API_KEY", "AION_NAMESPACE", "TRITON_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AION_URL", "")  # Python blocks see the server's; restored afterwards
    with ExitStack() as stack:
        run = DocRun(doc, tmp_path, stack)
        stack.callback(run.close)
        for block in _blocks(doc):
            if block.runnable and block.not_run is None:
                run.run(block)


def test_every_block_names_its_language() -> None:
    untagged = [
        f"{doc.name}:{block.line}" for doc in DOCS for block in _blocks(doc) if not block.lang
    ]
    assert not untagged, f"say ```text for literal output, else the block's language: {untagged}"


def test_blocks_not_run_stay_few() -> None:
    reasons = [
        f"{doc.name}:{block.line}: {block.not_run}"
        for doc in DOCS
        for block in _blocks(doc)
        if block.not_run is not None
    ]
    assert len(reasons) == NOT_RUN, "blocks marked not-run:\n" + "\n".join(reasons)


def test_readme_config_documents_every_setting(tmp_path: Path) -> None:
    readme = _blocks(ROOT / "README.md")
    (example,) = [b.text for b in readme if b.lang == "toml" and "[[routes]]" in b.text]
    config = AionConfig.from_mapping(tomllib.loads(example), data_dir=tmp_path)
    assert config.routes[0].backends == ("local", "pg")
    for key in toml_keys("data_dir", "extra", "backends", "routes"):
        assert re.search(rf"^{key} = ", example, flags=re.M), key


def test_blocks_take_their_directives_and_expected_output() -> None:
    doc = (
        "Intro\n\n<!-- server: my.toml -->\n```python\nprint(1)\n```\n\n```text\n1\n```\n"
        "Then\n```text\nliteral, not an output\n```\n"
        "<!-- not-run: serves forever -->\n\n  ```sh\n  aion serve\n  ```\n"
    )
    first, literal, shell = parse(doc)
    assert (first.lang, first.text, first.expected) == ("python", "print(1)\n", "1\n")
    assert first.directives == {"server": "my.toml"}
    assert literal.lang == "text" and literal.expected is None and not literal.runnable
    assert (shell.text, shell.not_run, shell.line) == ("aion serve\n", "serves forever", 17)
    with pytest.raises(DocError, match="unknown directive"):
        parse("<!-- no-run: typo -->\n```sh\ntrue\n```\n")
    with pytest.raises(DocError, match="never closed"):
        parse("```sh\ntrue\n")


def test_expected_output_takes_ellipses() -> None:
    assert expected_matches('{"id": "...", "n": 1}\n', '{"id": "4f-a1", "n": 1}  \n\n')
    assert expected_matches("a\n...\nz", "a\nb\nc\nz")
    assert not expected_matches('{"n": 1}', '{"n": 2}')
    assert not expected_matches("a...", "ba")


def test_shell_blocks_split_into_whole_commands() -> None:
    block = "cat > a.toml <<EOF\nx = 1\nEOF\nfor i in 1 2; do\n  echo $i\ndone\n"
    block += 'echo \'{"a": 1}\' \\\n  | jq -c .\n# {"a":1}\n'
    commands = split_shell(block)
    assert [c.text.splitlines()[0] for c in commands] == [
        "cat > a.toml <<EOF",
        "for i in 1 2; do",
        "echo '{\"a\": 1}' \\",
    ]
    assert [c.expected for c in commands] == [None, None, '{"a":1}']


@pytest.mark.parametrize("installed", [True, False], ids=["program", "minimal"])
def test_balancer_configs_are_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: bool
) -> None:
    if not installed:
        monkeypatch.setattr(balancer_configs.shutil, "which", lambda _: None)
    elif not (shutil.which("nginx") and shutil.which("haproxy")):
        pytest.skip("nginx or haproxy is not installed (scripts/balancers.sh installs them)")
    good_nginx = "events {}\nhttp {\n    upstream a {\n        server 10.0.0.1:8151;\n    }\n}\n"
    good_haproxy = (
        "defaults\n    mode http\n    timeout client 1s\n    timeout connect 1s\n"
        "    timeout server 1s\nfrontend f\n    bind 127.0.0.1:8151\n"
    )
    check_balancer_config("nginx", good_nginx, tmp_path)
    check_balancer_config("haproxy", good_haproxy, tmp_path)
    for lang, bad in [
        ("nginx", good_nginx.replace("8151;", "8151")),
        ("nginx", good_nginx.replace("http {", "http")),
        ("haproxy", "defaults\n    mode http\nbackends\n    balance roundrobin\n"),
    ]:
        with pytest.raises(ValueError, match=lang):
            check_balancer_config(lang, bad, tmp_path)
