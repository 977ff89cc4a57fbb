"""What a very large suite costs: import, load, listing and eval planning at 1k, 10k and 100k tasks.

    python benchmarks/suite_scale.py [--sizes 1000 10000 100000] [--format jsonl|json] [--json]

Each size gets a suite folder built from dsgym-tasks-lite (its data and solutions copied in,
its tasks repeated under new ids) and configured through ``DSGYM_SUITES``, as a user would.
Every figure comes from a fresh process, so nothing is cached between them:

* ``import``: ``import dsgym`` (goal: under 0.5 s whatever suites are configured);
* ``load``: the first ``dsgym.get_suite`` of the big suite (reads it, registers its env ids);
* ``list`` and ``list --json``: ``dsgym tasks list <suite>`` end to end, output to a file
  (goal for load + list of 100k tasks: under 10 s);
* ``plan``: ``runner.evaluate`` up to the first episode (the first load of the suite,
  expanding the targets, fingerprinting the suite, hashing the prompts, writing the run
  manifest; goal: under 10 s for 100k tasks).

For the commands the figure is the whole process (interpreter start to exit); for the
others, the step itself, then the whole process.  CPU seconds are printed beside wall
seconds because on a shared machine the wall clock also counts waiting for a core; the
load average is printed first.  Peak memory is each process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LITE = Path(__file__).resolve().parent.parent / "tasks" / "dsgym-tasks-lite"

LOAD = """
import time, dsgym
t0 = time.perf_counter()
c0 = time.process_time()
suite = dsgym.get_suite({name!r})
assert len(suite.tasks) == {size}, (len(suite.tasks), suite.errors[:3])
print(time.perf_counter() - t0, time.process_time() - c0)
"""

IMPORT = """
import time
t0, c0 = time.perf_counter(), time.process_time()
import dsgym
print(time.perf_counter() - t0, time.process_time() - c0)
"""

PLAN = """
import time, dsgym
from dsgym import runner

class Planned(Exception):
    pass

def stop(outcome, todo):
    assert len(todo) == {size}, len(todo)
    raise Planned

t0, c0 = time.perf_counter(), time.process_time()
settings = runner.EvalSettings(targets=[{name!r}], agent="oracle")
try:
    runner.evaluate(settings, {out!r}, on_plan=stop)
except Planned:
    pass
print(time.perf_counter() - t0, time.process_time() - c0)
"""


def build_suite(folder: Path, name: str, size: int, fmt: str) -> None:
    """A suite of ``size`` tasks: dsgym-tasks-lite's tasks repeated with new ids, its files copied in."""
    manifest = json.loads((LITE / "manifest.json").read_text())
    shutil.copytree(LITE / "data", folder / "data")
    shutil.copytree(LITE / "solutions", folder / "solutions")
    base = [t for t in manifest.pop("tasks") if (LITE / t.get("solution_file", "")).is_file()]
    manifest["suite"] = name
    entries = ({**base[i % len(base)], "id": f"task-{i:06d}"} for i in range(size))
    if fmt == "jsonl":
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with open(folder / "tasks.jsonl", "w") as out:
            for entry in entries:
                out.write(json.dumps(entry) + "\n")
    else:
        (folder / "manifest.json").write_text(json.dumps({**manifest, "tasks": list(entries)}))


def run(code: str | None, argv: list[str] | None, env: dict[str, str], cwd: Path) -> dict[str, float]:
    """Seconds (and CPU seconds) reported by the code, or measured around the command; the whole
    process's wall and CPU seconds; its peak RSS in MiB."""
    args = [sys.executable, "-c", code] if code is not None else argv
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=errors, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{args[:3]} failed ({proc.returncode}):\n{errors.read().decode()[-3000:]}")
        out.seek(0)
        cpu = usage.ru_utime + usage.ru_stime
        seconds, cpu_seconds = (map(float, out.read().decode().split()[-2:]) if code is not None else (wall, cpu))
    return {"seconds": round(seconds, 3), "cpu_seconds": round(cpu_seconds, 3), "process_seconds": round(wall, 3),
            "process_cpu_seconds": round(cpu, 3), "peak_mib": round(usage.ru_maxrss / 1024)}


def measure(size: int, fmt: str, work: Path) -> dict[str, dict[str, float]]:
    name = f"scale-{size}"
    folder = work / name
    build_suite(folder, name, size, fmt)
    env = {**os.environ, "DSGYM_SUITES": str(folder)}
    dsgym = str(Path(sys.executable).with_name("dsgym"))
    figures = {}
    for label, code, argv in [
        ("import", IMPORT, None),
        ("load", LOAD.format(name=name, size=size), None),
        ("list", None, [dsgym, "tasks", "list", name]),
        ("list --json", None, [dsgym, "tasks", "list", name, "--json"]),
        ("plan", PLAN.format(name=name, size=size, out=str(work / f"run-{size}")), None),
    ]:
        figures[label] = run(code, argv, env, work)
    shutil.rmtree(folder)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--format", choices=["jsonl", "json"], default="jsonl",
                        help="tasks in tasks.jsonl beside the manifest (default) or inside manifest.json")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    results = {}
    if not args.json:
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(prefix="dsgym-suite-scale-") as tmp:
        for size in args.sizes:
            results[size] = measure(size, args.format, Path(tmp))
            if not args.json:
                for label, fig in results[size].items():
                    print(f"{size:>7} tasks  {label:<12} {fig['seconds']:7.2f} s (CPU {fig['cpu_seconds']:6.2f} s)  "
                          f"process {fig['process_seconds']:6.2f} s (CPU {fig['process_cpu_seconds']:6.2f} s)  "
                          f"peak {fig['peak_mib']:>5} MiB", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
