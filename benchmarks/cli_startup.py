"""Start-up time of the ``dsgym`` command: ``--help``, ``tasks list`` and ``tasks list SUITE``.

    python benchmarks/cli_startup.py [--runs 7]

Runs each command ``--runs`` times as a user would (the installed ``dsgym`` script, stdout to a
pipe) and prints the median and best wall-clock time and the median CPU time (user + system of
the child), which a busy machine inflates less than wall-clock time. Also lists the heavy
libraries each command imports (none is expected).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--help"], ["tasks", "list"], ["tasks", "list", "dsgym-tasks-lite"], ["--version"])
HEAVY = ("openai", "pandas", "sklearn", "scipy", "ray", "torch")


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv``."""
    before = os.times()
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def heavy_imports(args: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "dsgym.cli", *args], capture_output=True,
                         text=True, check=True)
    names = {line.split("|")[-1].strip().split(".")[0] for line in out.stderr.splitlines()
             if line.startswith("import time")}
    return sorted(names & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    dsgym = str(Path(sys.executable).with_name("dsgym"))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {runs} runs each")
    print(f"{'command':<36}{'wall p50 (s)':>14}{'wall min (s)':>14}{'CPU p50 (s)':>13}  heavy imports")
    for args in COMMANDS:
        timed([dsgym, *args])  # warm the page cache
        samples = [timed([dsgym, *args]) for _ in range(runs)]
        walls, cpus = [w for w, _ in samples], [c for _, c in samples]
        print(f"{'dsgym ' + ' '.join(args):<36}{statistics.median(walls):>14.3f}{min(walls):>14.3f}"
              f"{statistics.median(cpus):>13.3f}  {', '.join(heavy_imports(args)) or 'none'}")


if __name__ == "__main__":
    main()
