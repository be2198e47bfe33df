"""``python -m tests.support.skewed_server SECONDS <aion arguments>``: the ``aion`` command in
a process whose wall clock runs SECONDS ahead (behind if negative), as on a machine whose
clock is off. Monotonic time is left alone (see :mod:`tests.support.clock`)."""

from __future__ import annotations

import sys

from tests.support.clock import shift_wall_clock


def main() -> None:
    shift_wall_clock(float(sys.argv[1]))
    from aion.cli.main import app

    app(sys.argv[2:], prog_name="aion")


if __name__ == "__main__":
    main()
