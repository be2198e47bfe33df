"""Runs a document's blocks as a reader would, top to bottom, against live servers.

One :class:`DocRun` per document: a working directory (the shell's cwd, Python's too, files
named by ``file:`` directives land there), one namespace for every Python block, and the
servers. The default server keeps its store in ``./aion-data`` of that directory, as
``make run`` does; a ``server: NAME`` directive names a config file written by an earlier
``file: NAME`` block, served from then on for the blocks that name it. Addresses of port 8151
in a block are rewritten to the server's.
"""

from __future__ import annotations

import configparser
import contextlib
import gc
import io
import json
import os
import re
import subprocess
import sys
import tomllib
import traceback
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aion.server.app import create_app
from aion.server.config import AionConfig
from tests.support.balancer_configs import BALANCER_LANGUAGES, check_balancer_config
from tests.support.docblocks import Block, expected_matches
from tests.support.live import serve

__all__ = ["BlockFailed", "DocRun", "split_shell"]

_PORT = re.compile(r"(?:http://)?(?:127\.0\.0\.1|localhost):8151")
_MARK = "\x1eAION-DOC-MARK"
_EXPECTED_COMMENT = re.compile(r"^# (?=[{\[])")
_CONFIG_KEYS = frozenset({"backends", "routes", "default_namespace", "namespaces", "rollups"})


class BlockFailed(AssertionError):
    """A block raised, exited non-zero, or printed something other than the doc shows."""


@dataclass(slots=True)
class _Command:
    line: int  # of the block, 0-based
    text: str
    expected: str | None = None


class DocRun:
    def __init__(self, doc: Path, workdir: Path, stack: ExitStack) -> None:
        self.doc = doc
        self.workdir = workdir
        self.stack = stack
        self.namespace: dict[str, Any] = {"__name__": "__doc__"}
        self._servers: dict[str, str] = {}
        self.ran: list[Block] = []

    def close(self) -> None:
        """Drop what the Python blocks made, as the end of a reader's script would (a client
        a script never closed is reclaimed here, while the test still runs)."""
        self.namespace.clear()
        gc.collect()

    # -- servers -------------------------------------------------------------------------

    def url(self, preset: str = "default") -> str:
        if preset not in self._servers:
            data = self.workdir / "aion-data"
            if preset == "default":
                config = AionConfig.for_data_dir(data)
            else:
                path = self.workdir / preset
                if not path.exists():
                    raise BlockFailed(f"server preset {preset!r}: no earlier `file: {preset}`")
                config = AionConfig.from_toml(path, data_dir=data)
            self._servers[preset] = self.stack.enter_context(serve(create_app(config)))
        return self._servers[preset]

    def _localize(self, text: str, url: str) -> str:
        return _PORT.sub(lambda m: url if m[0].startswith("http") else url[7:], text)

    def env(self, url: str) -> dict[str, str]:
        bin_dir = Path(sys.executable).parent
        return {
            "AION_URL": url,
            "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.workdir),
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
        }

    # -- blocks --------------------------------------------------------------------------

    def run(self, block: Block) -> None:
        where = f"{self.doc.name}:{block.line} ({block.lang})"
        url = self.url(block.directives.get("server", "default"))
        text = self._localize(block.text, url)
        if "file" in block.directives:
            (self.workdir / block.directives["file"]).write_text(text, encoding="utf-8")
        if block.lang == "python":
            printed = self._python(where, text, url)
        elif block.lang in ("sh", "bash", "shell", "console"):
            printed = self._shell(where, block, text, url)
        else:
            self._parse(where, block.lang, text)
            printed = ""
        if block.expected is not None and not expected_matches(block.expected, printed):
            raise BlockFailed(
                f"{where} printed:\n{printed}\n--- but the doc shows:\n{block.expected}"
            )
        self.ran.append(block)

    def _python(self, where: str, text: str, url: str) -> str:
        out = io.StringIO()
        os.environ["AION_URL"] = url
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(text, where, "exec"), self.namespace)
        except Exception as exc:
            raise BlockFailed(
                f"{where} raised {exc!r}\nprinted:\n{out.getvalue()}\n{traceback.format_exc()}"
            ) from exc
        return out.getvalue()

    def _parse(self, where: str, lang: str, text: str) -> None:
        try:
            if lang == "toml":
                raw = tomllib.loads(text)
                if _CONFIG_KEYS & raw.keys():
                    AionConfig.from_mapping(raw, data_dir=self.workdir / "aion-data")
            elif lang == "json":
                json.loads(text)
            elif lang == "yaml":
                yaml.safe_load(text)
            elif lang == "ini":
                configparser.ConfigParser().read_string(text)
            elif lang in BALANCER_LANGUAGES:
                check_balancer_config(lang, text, self.workdir)
        except Exception as exc:
            raise BlockFailed(f"{where} does not load: {exc!r}") from exc

    def _shell(self, where: str, block: Block, text: str, url: str) -> str:
        commands = _console(text) if block.lang == "console" else split_shell(text)
        script = "".join(f"{c.text}\nprintf '\\n{_MARK} %s\\n' $?\n" for c in commands)
        try:
            done = subprocess.run(
                ["bash", "-c", script],
                env=self.env(url),
                cwd=self.workdir,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise BlockFailed(f"{where} did not finish in 60 s: {exc.stdout!r}") from exc
        parts = done.stdout.split(f"\n{_MARK} ")
        outputs: list[str] = [parts[0]]
        for index, command in enumerate(commands):
            if index + 1 >= len(parts):
                raise BlockFailed(
                    f"{where}: the shell stopped at `{command.text}`\nstderr:\n{done.stderr}"
                )
            status, _, rest = parts[index + 1].partition("\n")
            if status.strip() != "0":
                raise BlockFailed(
                    f"{where}: `{command.text}` exited {status}\nprinted:\n{outputs[-1]}\n"
                    f"stderr:\n{done.stderr}"
                )
            if command.expected is not None and not expected_matches(command.expected, outputs[-1]):
                raise BlockFailed(
                    f"{where}: `{command.text}` printed:\n{outputs[-1]}\n"
                    f"--- but the doc shows:\n{command.expected}"
                )
            outputs.append(rest)
        return "".join(outputs)


def _complete(text: str) -> bool:
    """Whether ``text`` is whole shell commands (no open quote, loop, here-document or
    continuation)."""
    if text.endswith("\\"):
        return False
    checked = subprocess.run(["bash", "-n", "-c", text], capture_output=True)
    return checked.returncode == 0 and b"here-document" not in checked.stderr


def split_shell(text: str) -> list[_Command]:
    """The commands of an sh block; ``# {...}`` / ``# [...]`` comment lines right after a
    command are its expected output."""
    commands: list[_Command] = []
    pending: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if not pending and _EXPECTED_COMMENT.match(line) and commands:
            shown = line[2:]
            last = commands[-1]
            last.expected = shown if last.expected is None else f"{last.expected}\n{shown}"
            continue
        if not pending and not line.strip():
            continue
        pending.append(line)
        joined = "\n".join(pending)
        if _complete(joined):
            commands.append(_Command(number, joined))
            pending = []
    if pending:
        raise BlockFailed(f"an incomplete shell command: {' '.join(pending)!r}")
    return commands


def _console(text: str) -> list[_Command]:
    """``$ command`` lines, each followed by the lines it prints."""
    commands: list[_Command] = []
    for number, line in enumerate(text.splitlines()):
        if line.startswith("$ "):
            commands.append(_Command(number, line[2:]))
        elif commands:
            last = commands[-1]
            last.expected = line if last.expected is None else f"{last.expected}\n{line}"
        elif line.strip():
            raise BlockFailed(f"console output before any `$ ` command: {line!r}")
    return commands
