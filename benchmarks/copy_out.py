"""Large files out of sandboxes: copy-out throughput, and grading a large prediction submission.

    python benchmarks/copy_out.py [--sizes 1 10 50 200] [--grade 10 20 40 80 200] [--shuffled] [--legacy 1 10 20]

1. Copy-out: a file of each size (MB, random bytes) written in a Docker sandbox is copied to
   the host with ``Sandbox.copy_out``; prints seconds, MB/s and the growth of this process's
   peak RSS during the copy.  ``--legacy`` also times the read dsgym used before (``docker
   exec`` + docker-py's demultiplexer, which concatenates frames: quadratic) for comparison.
2. Grading: a prediction task whose test set makes a submission of about each size (MB) is
   played in a real env: a cell writes ``/workspace/submission.csv`` (id, probability; rows in
   the test file's order, as agents usually write them, or shuffled with ``--shuffled``), then
   the answer step freezes the sandbox, copies the file out and grades it (ROC AUC against
   hidden labels, placed on a leaderboard).  Prints the answer step's time, the breakdown's
   ``grading_seconds`` and ``submission_bytes``, and the peak RSS of this process.

Needs the Docker daemon and the sandbox image (``dsgym sandbox build``).  Goals on the dev
machine (issue 31): at least 100 MB/s copy-out at 200 MB, a 200 MB submission graded in under
30 s, host peak memory under 2 GB for it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

import dsgym
from dsgym.predict import grade
from dsgym.sandbox.base import Limits
from dsgym.sandbox.docker import DockerSandbox

MB = 1 << 20
ROW_BYTES = 18.9  # "row00000001,0.1234\n", some probabilities shorter: submission bytes per test row


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class PeakRss:
    """Samples this process's RSS in a thread; ``peak`` is the highest value seen, in MB."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def legacy_read(sandbox: DockerSandbox, path: str, max_bytes: int) -> bytes:
    """The read dsgym used before issue 31, for comparison only."""
    script = 'test -f "$1" || exit 3; exec head -c "$2" "$1"'
    result = sandbox.container.exec_run(["sh", "-c", script, "sh", path, str(max_bytes + 1)], demux=True)
    return result.output[0] or b""


def copy_out(sizes: list[int], legacy: list[int], image: str | None) -> None:
    print(f"{'copy-out':>10} {'MB':>5} {'seconds':>8} {'MB/s':>8} {'peak RSS growth MB':>19}")
    sandbox = DockerSandbox(image=image, limits=Limits(memory="3g", workspace_size=f"{max(sizes + legacy) + 16}m"))
    sandbox.start()
    try:
        with tempfile.TemporaryDirectory(prefix="dsgym-bench-") as folder:
            for method, wanted in (("copy_out", sizes), ("legacy", legacy)):
                for size in wanted:
                    made = sandbox.execute("import os\nwith open('/workspace/blob.bin', 'wb') as out:\n"
                                           f"    for _ in range({size}):\n        out.write(os.urandom({MB}))", 300)
                    assert made.error is None, made.error
                    dest = Path(folder) / "blob.bin"
                    with PeakRss() as rss:
                        started = time.perf_counter()
                        if method == "copy_out":
                            got = sandbox.copy_out("/workspace/blob.bin", dest, max_bytes=(size + 1) * MB)
                        else:
                            got = len(legacy_read(sandbox, "/workspace/blob.bin", (size + 1) * MB))
                        took = time.perf_counter() - started
                    assert got == size * MB, got
                    dest.unlink(missing_ok=True)
                    print(f"{method:>10} {size:>5} {took:>8.2f} {size / took:>8.1f} {rss.peak - rss.start:>19.0f}",
                          flush=True)
    finally:
        sandbox.close()


def prediction_suite(root: Path, rows: int, name: str) -> None:
    rng = np.random.default_rng(0)
    ids = pd.Series([f"row{i:08d}" for i in range(rows)])
    data = root / "data" / "big"
    data.mkdir(parents=True)
    pd.DataFrame({"id": ids, "x": rng.normal(size=rows).round(3)}).to_csv(data / "test.csv", index=False)
    pd.DataFrame({"id": ids[:5], "target": 0.5}).to_csv(data / "sample_submission.csv", index=False)
    (root / "hidden").mkdir()
    pd.DataFrame({"id": ids, "target": rng.integers(0, 2, rows)}).to_csv(root / "hidden" / "big.csv", index=False)
    board = sorted(rng.uniform(0.5, 0.9, 100).round(5).tolist(), reverse=True)
    (root / "leaderboard_stats.json").write_text(json.dumps({"big": {"public_scores": board,
                                                                     "private_scores": []}}))
    (root / "manifest.json").write_text(json.dumps({
        "suite": name, "version": "1", "data_dir": "data",
        "tasks": [{"id": "big", "question": "Predict the target of every test row.", "metric": "roc_auc",
                   "kind": "prediction", "data_files": ["big"],
                   "prediction": {"id_column": "id", "target_columns": ["target"],
                                  "sample_submission": "big/sample_submission.csv",
                                  "labels_file": "hidden/big.csv", "leaderboard_file": "leaderboard_stats.json"}}]}))


WRITE = ("import numpy as np, pandas as pd\n"
         "t = pd.read_csv('/data/big/test.csv', usecols=['id'])\n"
         "t['target'] = np.random.default_rng(1).uniform(0, 1, len(t)).round(4)\n"
         "t = t.sample(frac=1.0, random_state=2) if {shuffled} else t\n"
         "t.to_csv('/workspace/submission.csv', index=False)\n")


def grading(sizes: list[int], shuffled: bool, image: str | None) -> None:
    print(f"\n{'submission MB':>13} {'rows':>11} {'answer step s':>14} {'grading s':>10} {'peak RSS MB':>12}  result"
          f"  (rows {'shuffled' if shuffled else 'in test order'})")
    for size in sizes:
        rows = int(size * 1e6 / ROW_BYTES)
        with tempfile.TemporaryDirectory(prefix="dsgym-bench-") as folder:
            root = Path(folder)
            name = f"copy-out-bench-{size}"
            # made in a child process, so its garbage does not count in this process's RSS
            with multiprocessing.get_context("spawn").Pool(1) as pool:
                pool.apply(prediction_suite, (root / "suite", rows, name))
            grade._read_labels.cache_clear()  # only this size's labels in memory
            dsgym.register_suite(root / "suite")
            env = dsgym.make(f"{name}/big", artifacts_dir=root / "artifacts", cell_timeout=900, image=image,
                             episode_budget=3600, limits=Limits(memory="4g", workspace_size="512m"))
            try:
                env.reset()
                observation, *_ = env.step(f"<python>{WRITE.format(shuffled=shuffled)}</python>")
                with PeakRss() as rss:
                    started = time.perf_counter()
                    *_, info = env.step("<answer>done</answer>")
                    took = time.perf_counter() - started
            finally:
                env.close()
            b = info["score_breakdown"]
            result = (f"valid auc={b['metric_value']:.4f}" if b.get("valid") else
                      f"invalid: {b.get('reason')} {b.get('message', b.get('error', ''))[:80]}")
            print(f"{b.get('submission_bytes', 0) / 1e6:>13.1f} {rows:>11,} {took:>14.2f} "
                  f"{b.get('grading_seconds', float('nan')):>10.2f} {rss.peak:>12.0f}  {result}", flush=True)
    print(f"\nprocess peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1, 10, 50, 200], help="copy-out sizes, MB")
    parser.add_argument("--legacy", type=int, nargs="*", default=[], help="sizes for the old exec read, MB")
    parser.add_argument("--grade", type=int, nargs="*", default=[10, 20, 40, 80, 200], help="submission sizes, MB")
    parser.add_argument("--shuffled", action="store_true", help="submission rows in random order (the slow case)")
    parser.add_argument("--image", help="sandbox image tag (default: the built default image)")
    args = parser.parse_args()
    if args.sizes or args.legacy:
        copy_out(args.sizes, args.legacy, args.image)
    if args.grade:
        grading(args.grade, args.shuffled, args.image)


if __name__ == "__main__":
    main()
