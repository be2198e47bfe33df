"""Checks the docs' load-balancer configs (```nginx and ```haproxy blocks).

With the program installed, its own config test judges the block: ``nginx -t`` and
``haproxy -c``; nothing is started and no address is reached (the blocks name servers by IP
address, which the config tests take as they are). Without it (``scripts/balancers.sh``
installs both where it can), a minimal check only: nginx's braces balance and each directive
ends with ``;``, and HAProxy's lines sit under a section it knows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["BALANCER_LANGUAGES", "check_balancer_config"]

BALANCER_LANGUAGES = frozenset({"nginx", "haproxy"})
_HAPROXY_SECTIONS = frozenset(
    {"global", "defaults", "frontend", "backend", "listen", "resolvers", "peers", "userlist"}
)


def check_balancer_config(lang: str, text: str, workdir: Path) -> None:
    """Raise ``ValueError`` with the program's message when the config does not load."""
    path = workdir / f"doc-{lang}.cfg"
    path.write_text(text, encoding="utf-8")
    program = shutil.which(lang)
    if program is None:
        _minimal_nginx(text) if lang == "nginx" else _minimal_haproxy(text)
        return
    if lang == "nginx":
        args = [program, "-t", "-q", "-p", str(workdir), "-e", "stderr", "-c", str(path)]
    else:
        args = [program, "-c", "-f", str(path)]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=workdir)
    if done.returncode != 0:
        raise ValueError(f"{lang} refuses the config:\n{done.stderr or done.stdout}")


def _minimal_nginx(text: str) -> None:
    depth = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        depth += line.count("{") - line.count("}")
        if depth < 0:
            raise ValueError(f"nginx line {number}: a '}}' closes nothing")
        if not line.endswith(("{", "}", ";")):
            raise ValueError(f"nginx line {number}: a directive must end with ';': {line!r}")
    if depth:
        raise ValueError("nginx: a '{' is never closed")


def _minimal_haproxy(text: str) -> None:
    section = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            continue
        if not line[0].isspace():
            section = re.split(r"\s+", line.strip(), maxsplit=1)[0]
            if section not in _HAPROXY_SECTIONS:
                raise ValueError(f"haproxy line {number}: unknown section {section!r}")
        elif section is None:
            raise ValueError(f"haproxy line {number}: a setting outside any section")
