"""How long a sandbox outlives its owner: after SIGTERM, and after SIGKILL (the lease).

    python benchmarks/leases.py [--lease 10] [--rounds 3] [--json]

Each round starts a plain ``dsgym.make`` user in its own process (one env, reset, so one
container), stops it, and times until Docker lists none of its containers: with SIGTERM
(the process removes them itself) and with SIGKILL (nothing of dsgym runs afterwards: the
container's PID 1 sees the lease lapse, exits, and the daemon auto-removes it).  The
SIGKILL figure minus the lease is the lease's overhead.  Also times ``DockerSandbox.start``
(the lease adds a folder, a bind mount and a file).  Needs Docker and the sandbox images.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsgym.sandbox.docker import DockerSandbox, client, list_containers  # noqa: E402

HOLDER = textwrap.dedent("""
    import sys, time
    import dsgym
    env = dsgym.make("dsgym-tasks-lite")
    env.reset(seed=0)
    print("ready", flush=True)
    time.sleep(3600)
""")


def gone_after(sig: signal.Signals, lease: float) -> float | None:
    """Seconds from ``sig`` to the owner's container being destroyed; None if another process removed it.

    Every dsgym process of this host reaps orphans when it starts its first sandbox, so on a
    busy machine a SIGKILLed owner's container may be removed before its lease lapses; the
    daemon's events tell the two apart (a removal by someone else begins with a ``kill``).
    """
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "DSGYM_LEASE_SECONDS": f"{lease:g}"})
    assert proc.stdout.readline().strip() == "ready"
    (container,) = list_containers(owned_by=proc.pid)
    since = int(time.time()) - 1
    proc.send_signal(sig)
    sent = time.monotonic()
    proc.wait(60)
    killed = False
    events = client().api.events(since=since, filters={"container": container.id, "type": "container"},
                                 decode=True)
    for event in events:
        killed = killed or event.get("Action") == "kill"
        if event.get("Action") == "destroy":
            break
        if time.monotonic() - sent > lease + 120:
            raise RuntimeError(f"a container outlived its owner by {lease + 120:g} s")
    took = time.monotonic() - sent
    events.close()
    return None if killed and sig == signal.SIGKILL else took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lease", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    starts = []
    for _ in range(args.rounds):
        sandbox = DockerSandbox()
        t0 = time.monotonic()
        sandbox.start()
        starts.append(time.monotonic() - t0)
        sandbox.close()
    sigterm = [gone_after(signal.SIGTERM, args.lease) for _ in range(args.rounds)]
    sigkill, reaped = [], 0
    while len(sigkill) < args.rounds and reaped < 3 * args.rounds:
        took = gone_after(signal.SIGKILL, args.lease)
        if took is None:
            reaped += 1
        else:
            sigkill.append(took)
    figures = {"lease_s": args.lease, "rounds": args.rounds,
               "start_median_s": round(statistics.median(starts), 3),
               "sigterm_gone_median_s": round(statistics.median(sigterm), 2),
               "sigterm_gone_max_s": round(max(sigterm), 2),
               "sigkill_gone_median_s": round(statistics.median(sigkill), 2),
               "sigkill_gone_max_s": round(max(sigkill), 2),
               "sigkill_overhead_max_s": round(max(sigkill) - args.lease, 2),
               "sigkill_rounds_reaped_by_others": reaped}
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
