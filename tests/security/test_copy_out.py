"""Threat: the sandbox holds up grading.  A background process the agent left running finds the
process that copies the submission out and stops it, then drips bytes into its output: a copy
that runs through the sandbox never ends and reads more than the file holds (issue 22, item 4).
The copy must run with the sandbox frozen, bounded in time and bytes on the host.
"""

from __future__ import annotations

import threading

import pytest

import dsgym
from tests.support.helpers import python

pytestmark = pytest.mark.docker

# Stops every new process of the sandbox (a `docker exec` reader) and drips into its stdout where the
# kernel lets it open that.
DRIPPER = r'''
import os, signal, time
ours = {int(p) for p in os.listdir('/proc') if p.isdigit()}
base = max(ours)
while True:  # busy: the next process ids of the sandbox, stopped as soon as they exist
    for pid in range(base + 1, base + 200):
        if pid in ours:
            continue
        try:
            with open(f'/proc/{pid}/status') as status:  # a process, not a new thread of the kernel
                if f'Tgid:\t{pid}\n' not in status.read():
                    ours.add(pid)
                    continue
            os.kill(pid, signal.SIGSTOP)
        except OSError:
            continue
        ours.add(pid)
        try:
            out = os.open(f'/proc/{pid}/fd/1', os.O_WRONLY | os.O_NONBLOCK)  # not allowed on every kernel
        except OSError:
            continue
        child = os.fork()
        if child == 0:
            while True:
                try:
                    os.write(out, b'9')
                except OSError:
                    pass
                time.sleep(0.2)
        ours.add(child)
'''
START = ("import subprocess, sys\n"
         "import pandas as pd\n"
         "t = pd.read_csv('/data/toy/test.csv')\n"
         "t.assign(y=(t.x1 + t.x2 > 0).astype(int))[['id', 'y']].to_csv('/workspace/submission.csv', index=False)\n"
         # 20 MB of blank lines (a CSV reader skips them): a copy that is not over in an instant
         "open('/workspace/submission.csv', 'a').write('\\n' * (20 << 20))\n"
         f"subprocess.Popen([sys.executable, '-c', {DRIPPER!r}], start_new_session=True)\n")


def test_a_background_process_cannot_hang_or_pad_the_submission_copy(docker_image, predict_suite, tmp_path):
    env = dsgym.make("predict-env/toy", artifacts_dir=tmp_path / "artifacts", max_turns=4)
    ended: dict = {}
    try:
        env.reset()
        observation, *_ = env.step(python(START))
        assert "[error]" not in observation, observation
        grading = threading.Thread(target=lambda: ended.update(info=env.step("<answer>done</answer>")[4]),
                                   daemon=True)
        grading.start()
        grading.join(60)
        assert not grading.is_alive(), "copying the submission out did not end within 60 s"
    finally:
        env.close()  # removing the container also ends a copy that hung
    breakdown = ended["info"]["score_breakdown"]
    assert breakdown["valid"] and breakdown["metric_value"] == 1.0, breakdown
    saved = ended["info"]["submission"]
    assert "9" not in open(saved).read().split("\n")[-1], "bytes the sandbox dripped reached the host file"
