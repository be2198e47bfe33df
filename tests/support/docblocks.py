"""The fenced code blocks of a Markdown document, with the HTML-comment directives before them.

Pure parsing, no I/O: :func:`parse` takes a document's text. A directive is an HTML comment
line ``<!-- key: value -->`` directly before a fence (blank lines allowed between):

- ``not-run: <reason>``: the block is shown, never executed (the docs test counts them);
- ``server: <preset>``: the block runs against a server configured by that preset;
- ``file: <name>``: the block's text is written to ``name`` in the working directory.

A ```text block separated from a runnable block by blank lines only is that block's expected
output, where ``...`` matches anything (as doctest's ELLIPSIS).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["DIRECTIVES", "RUNNABLE", "Block", "DocError", "expected_matches", "parse"]

RUNNABLE = frozenset(
    {"python", "sh", "bash", "shell", "console", "toml", "ini", "yaml", "json", "nginx", "haproxy"}
)
"""Languages the docs test executes (or parses, or has nginx and HAProxy check); anything else
is shown only."""

DIRECTIVES = frozenset({"not-run", "server", "file"})

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w+-]*)\s*$")
_DIRECTIVE = re.compile(r"^\s*<!--\s*(?P<key>[\w-]+):\s*(?P<value>.*?)\s*-->\s*$")


class DocError(ValueError):
    """A document the docs test cannot read: an unclosed fence or an unknown directive."""


@dataclass(slots=True)
class Block:
    """One fenced block: its language (``""`` when none), its text (dedented), the line its
    opening fence is on (1-based), its directives and, when the doc shows it, the text it
    prints."""

    lang: str
    text: str
    line: int
    directives: dict[str, str] = field(default_factory=dict)
    expected: str | None = None

    @property
    def runnable(self) -> bool:
        return self.lang in RUNNABLE

    @property
    def not_run(self) -> str | None:
        return self.directives.get("not-run")


def parse(text: str) -> list[Block]:
    """Every fenced block of ``text`` in order; a ```text block right after a runnable one is
    folded into it as ``expected`` and not listed itself."""
    lines = text.splitlines()
    blocks: list[Block] = []
    pending: dict[str, str] = {}
    after_runnable: Block | None = None  # the last block, while only blank lines followed it
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE.match(line)
        directive = _DIRECTIVE.match(line)
        if directive and directive["key"] in DIRECTIVES:
            pending[directive["key"]] = directive["value"]
        elif directive and directive["key"] != "":
            raise DocError(f"line {index + 1}: unknown directive {directive['key']!r}")
        if fence is None:
            if line.strip() and not directive:
                pending.clear()
                after_runnable = None
            index += 1
            continue
        indent = len(fence["indent"])
        body: list[str] = []
        end = index + 1
        while end < len(lines) and not re.match(rf"^ {{0,{indent}}}```\s*$", lines[end]):
            body.append(lines[end][indent:] if lines[end][:indent].strip() == "" else lines[end])
            end += 1
        if end == len(lines):
            raise DocError(f"line {index + 1}: the fence is never closed")
        block = Block(fence["lang"], "\n".join(body) + "\n", index + 1, dict(pending))
        if block.lang == "text" and after_runnable is not None and not pending:
            after_runnable.expected = block.text
            after_runnable = None
        else:
            blocks.append(block)
            after_runnable = block if block.runnable else None
        pending.clear()
        index = end + 1
    return blocks


def _normal(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def expected_matches(expected: str, printed: str) -> bool:
    """Whether ``printed`` is ``expected``, where ``...`` in ``expected`` matches any text
    (newlines too); trailing spaces and leading or trailing blank lines do not count."""
    pattern = ".*?".join(re.escape(part) for part in _normal(expected).split("..."))
    return re.fullmatch(pattern, _normal(printed), flags=re.S) is not None
