"""The docker and bwrap sandbox kinds side by side, in one run.

    python benchmarks/sandbox_kinds.py [--kinds docker bwrap] [--resets 10] [--cells 100]
                                       [--steps 10] [--tasks 12] [--json]

For each kind: cold reset (sandbox and kernel ready for the first cell), warm-pool reset,
a trivial cell, a vector step of N = 1, 4, 16 trivial cells (``make_vec``, sync), oracle
episodes per minute over ``dsgym-tasks-lite`` at concurrency 1, 2 and 4 (the first
``--tasks`` tasks, ``runner.run``), and the memory of one idle sandbox (the sum of its
processes' RSS and PSS; for docker with its containerd shim, for bwrap with the outer
bwrap process).  The floors: a bare ``docker run --rm <image> true`` and a bare
``bwrap ... python3 -c 1`` over the same tree, and the RSS of an idle bare container.

Bounds the machine sets, measured in the same run: a vector step of N trivial cells needs
N x (host CPU per env step + kernel CPU per cell) of CPU time, on this machine's cores and
never less than the host's own single-threaded share (``vector_N_cpu_bound_s``); episodes at
concurrency 4 can run at most (cores / cores busy at concurrency 1) times as fast as at 1
(``episodes_c4_over_c1_bound``; busy from /proc/stat over the concurrency-1 run).
Needs the Docker daemon (for docker and the floor), bubblewrap, and the built images.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import dsgym
from dsgym import runner
from dsgym.agents import OracleAgent
from dsgym.sandbox import SandboxPool, SandboxSpec
from dsgym.sandbox.images import default_image

SUITE = "dsgym-tasks-lite"
TASK = "iris-kmeans-ari"
CELL = "<python>\nx = 1\n</python>"


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cold_resets(kind: str, n: int) -> list[float]:
    env = dsgym.make(SUITE, sandbox=kind)
    try:
        return [env.reset(seed=i)[1]["reset_time"] for i in range(n)]
    finally:
        env.close()


def warm_resets(kind: str, n: int) -> list[float]:
    times = []
    with SandboxPool(SandboxSpec(kind, default_image()).factory(), size=2) as pool:
        env = dsgym.make(SUITE, sandbox=kind, pool=pool)
        try:
            for i in range(n):
                while pool.ready() < 2:  # the hand-over, not the refill
                    time.sleep(0.02)
                times.append(env.reset(seed=i)[1]["reset_time"])
        finally:
            env.close()
    return times


def trivial_cells(kind: str, n: int) -> list[float]:
    env = dsgym.make(SUITE, sandbox=kind)
    try:
        env.reset(seed=0)
        return [env.unwrapped.sandbox.execute("1", timeout=10).duration for _ in range(n)]
    finally:
        env.close()


def kernel_cpu_per_cell(kind: str, n: int) -> float:
    """Median CPU seconds a sandbox's kernel spends on one trivial cell (its cgroup's counters)."""
    sandbox = SandboxSpec(kind, default_image()).factory()()
    sandbox.start()
    try:
        used = [sandbox.execute("x = 1", timeout=10).cpu for _ in range(n)]
    finally:
        sandbox.close()
    return p50([cpu.seconds for cpu in used if cpu is not None] or [float("nan")])


def vector_step(kind: str, num_envs: int, steps: int) -> tuple[float, float]:
    """Median seconds of one vector step of ``num_envs`` trivial cells, and this process's CPU seconds per env step."""
    envs = dsgym.make_vec(SUITE, num_envs=num_envs, sandbox=kind, max_turns=steps + 5)
    try:
        envs.reset(seed=0, options={"task_id": TASK})
        envs.step((CELL,) * num_envs)
        times = []
        cpu_before = time.process_time()
        for _ in range(steps):
            started = time.monotonic()
            envs.step((CELL,) * num_envs)
            times.append(time.monotonic() - started)
        return p50(times), (time.process_time() - cpu_before) / (steps * num_envs)
    finally:
        envs.close()


def busy_cores(during) -> tuple[object, float]:
    """``during()``'s result, and how many of the machine's cores were busy on average meanwhile (/proc/stat)."""
    def ticks() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)  # busy (all but idle, iowait), total
    busy0, total0 = ticks()
    result = during()
    busy1, total1 = ticks()
    return result, (os.cpu_count() or 1) * (busy1 - busy0) / max(1, total1 - total0)


def episodes_per_minute(kind: str, concurrency: int, tasks: int) -> dict[str, float]:
    os.environ["DSGYM_SANDBOX"] = kind  # the kind every episode's env takes
    ids = sorted(dsgym.get_suite(SUITE).tasks)[:tasks]
    jobs = runner.expand([f"{SUITE}/{task_id}" for task_id in ids])
    started = time.monotonic()
    records = runner.run(jobs, OracleAgent, concurrency=concurrency, env_options={"cell_timeout": 120.0})
    elapsed = time.monotonic() - started
    return {"per_minute": 60 * len(records) / elapsed, "episodes": len(records),
            "mean_score": statistics.fmean([r.score for r in records if r.status == "ok"] or [0.0]),
            "errors": sum(1 for r in records if r.error)}


def memory_of(pids: list[int]) -> tuple[float, float]:
    """Summed RSS and PSS of ``pids`` in MiB."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def shim_of(pid: int) -> list[int]:
    """The containerd shim above a container's init (it exists only for that container)."""
    try:
        ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        return [ppid] if "shim" in Path(f"/proc/{ppid}/comm").read_text() else []
    except (OSError, ValueError, IndexError):
        return []


def idle_sandbox_memory(kind: str) -> tuple[float, float]:
    sandbox = SandboxSpec(kind, default_image()).factory()()
    sandbox.start()
    try:
        sandbox.execute("1", timeout=10)
        time.sleep(2)
        if kind == "docker":
            pids = descendants(sandbox.pid) + shim_of(sandbox.pid)
        else:
            pids = descendants(sandbox.proc.pid)
        return memory_of(pids)
    finally:
        sandbox.close()


def docker_floor() -> dict[str, float]:
    image = default_image()
    times = []
    for _ in range(5):
        started = time.monotonic()
        subprocess.run(["docker", "run", "--rm", "--network", "none", image, "true"], check=True,
                       capture_output=True)
        times.append(time.monotonic() - started)
    name = f"dsgym-bench-floor-{os.getpid()}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "--network", "none", image, "sleep", "600"],
                   check=True, capture_output=True)
    try:
        time.sleep(1)
        pid = int(subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", name], check=True,
                                 capture_output=True, text=True).stdout)
        rss, pss = memory_of(descendants(pid) + shim_of(pid))
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    return {"run_s": p50(times), "idle_rss_mib": rss, "idle_pss_mib": pss}


def bwrap_floor() -> float:
    from dsgym.sandbox import rootfs

    tree = rootfs.tree(default_image())
    argv = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", str(tree.root), "/",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "python3", "-c", "1"]
    times = []
    for _ in range(5):
        started = time.monotonic()
        subprocess.run(argv, check=True)
        times.append(time.monotonic() - started)
    return p50(times)


def measure(kind: str, args) -> dict:
    cold_resets(kind, 1)  # the page cache, the client, the tree
    cold = cold_resets(kind, args.resets)
    warm = warm_resets(kind, args.resets)
    cells = trivial_cells(kind, args.cells)
    kernel_cpu = kernel_cpu_per_cell(kind, args.cells)
    steps = {n: vector_step(kind, n, args.steps) for n in (1, 4, 16)}
    vector = {n: wall for n, (wall, _) in steps.items()}
    cores = os.cpu_count() or 1
    bound = {n: max(n * host, n * (host + kernel_cpu) / cores) for n, (_, host) in steps.items()}
    first, busy = busy_cores(lambda: episodes_per_minute(kind, 1, args.tasks))
    episodes = {1: first, **{c: episodes_per_minute(kind, c, args.tasks) for c in (2, 4)}}
    rss, pss = idle_sandbox_memory(kind)
    return {"cold_reset_p50_s": p50(cold), "cold_reset_p95_s": p95(cold), "warm_reset_p50_s": p50(warm),
            "trivial_cell_p50_s": p50(cells), **{f"vector_step_{n}_s": t for n, t in vector.items()},
            "vector_4_over_1": vector[4] / vector[1], "vector_16_over_1": vector[16] / vector[1],
            "kernel_cpu_per_cell_s": kernel_cpu, "host_cpu_per_env_step_s": steps[4][1],
            **{f"vector_{n}_cpu_bound_s": b for n, b in bound.items()},
            "vector_4_over_1_bound": bound[4] / vector[1], "vector_16_over_1_bound": bound[16] / vector[1],
            **{f"episodes_per_min_c{c}": e["per_minute"] for c, e in episodes.items()},
            "episodes_c4_over_c1": episodes[4]["per_minute"] / episodes[1]["per_minute"],
            "busy_cores_c1": busy, "episodes_c4_over_c1_bound": min(4.0, cores / busy) if busy > 0 else float("nan"),
            "oracle_mean_score": min(e["mean_score"] for e in episodes.values()),
            "oracle_errors": sum(e["errors"] for e in episodes.values()),
            "idle_rss_mib": rss, "idle_pss_mib": pss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", nargs="+", default=["docker", "bwrap"])
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--cells", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=12, help="oracle episodes per concurrency setting")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = {kind: measure(kind, args) for kind in args.kinds}
    floors = {"docker_run": docker_floor() if "docker" in args.kinds else None,
              "bwrap_python_s": bwrap_floor() if "bwrap" in args.kinds else None}
    if args.json:
        print(json.dumps({"kinds": figures, "floors": floors}, indent=2))
        return
    print(f"{'measure':<28}" + "".join(f"{kind:>12}" for kind in figures))
    for key in next(iter(figures.values())):
        row = [figures[kind][key] for kind in figures]
        print(f"{key:<28}" + "".join(f"{value:>12.4f}" if isinstance(value, float) else f"{value:>12}"
                                     for value in row))
    if floors["docker_run"]:
        floor = floors["docker_run"]
        print(f"bare `docker run --rm <image> true`: {floor['run_s']:.3f} s p50; an idle bare container "
              f"(sleep, with its shim): {floor['idle_rss_mib']:.1f} MiB RSS, {floor['idle_pss_mib']:.1f} MiB PSS")
    if floors["bwrap_python_s"] is not None:
        print(f"bare `bwrap ... python3 -c 1` over the same tree: {floors['bwrap_python_s']:.3f} s p50")


if __name__ == "__main__":
    main()
