"""``python benchmarks/_profile_serve.py <civiccert arguments>``: the CLI under yappi (CPU clock, every thread).

Used by ``bench_server.py --profile FILE`` (one server process): the stats are saved as a pstats file when
the server stops (SIGTERM), counting from the last SIGUSR1 (sent after the warm-up), for
``python -m pstats FILE``. yappi is a measuring tool, not a dependency (``pip install yappi`` to use it).
"""

from __future__ import annotations

import atexit
import os
import runpy
import signal
import sys

import yappi

OUT = os.environ["CIVICCERT_BENCH_PROFILE"]


def _save() -> None:
    yappi.stop()
    yappi.get_func_stats().save(OUT, type="pstat")


yappi.set_clock_type("cpu")
yappi.start(builtins=True)
atexit.register(_save)
signal.signal(signal.SIGUSR1, lambda _s, _f: yappi.clear_stats())  # the benchmark: warm-up done
sys.argv[0] = "civiccert"
runpy.run_module("civiccert.cli", run_name="__main__")
