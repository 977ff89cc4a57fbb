"""Candidates per stage, drops and wall time of ``dsgym synth`` over the embedded suites' data.

    python benchmarks/synth_pipeline.py [--sources dsgym-tasks-lite dsbio-lite] [--rollouts 3] [-j 2] [--json]

The model is the scripted analyst of the tests (``tests/support/synth_model.py``) behind the
local fake OpenAI-compatible server: it proposes seven kinds of question per dataset
(one malformed entry besides) and plays rollouts that are right, wrong, claim numbers
their code never printed, trivial or silent, so every filter has work.  Everything
else is real: sandboxes, the react agent, re-execution, the blind probe, the export.
The run is then repeated into the same folder to time a resume.  Needs the Docker
daemon and the sandbox images (``dsgym sandbox build``).  Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dsgym.synth import SynthSettings, synthesize  # noqa: E402
from dsgym.synth.report import report_lines  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402
from tests.support.synth_model import ScriptedAnalyst  # noqa: E402

SEED = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", nargs="+", default=["dsgym-tasks-lite", "dsbio-lite"])
    parser.add_argument("--rollouts", type=int, default=3)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("-j", "--concurrency", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="run folder (default: a temporary one)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dsgym-synth-bench-") as scratch:
        out = args.out or Path(scratch) / "run"
        analyst = ScriptedAnalyst(seed_base=SEED)
        with FakeOpenAI(replies=analyst) as fake:
            settings = SynthSettings(sources=args.sources, model="scripted-analyst", base_url=fake.base_url,
                                     rollouts=args.rollouts, questions=args.questions, max_turns=6,
                                     agent_kwargs={"seed": SEED}, concurrency=args.concurrency,
                                     cache_dir=str(Path(scratch) / "llm-cache"), export_suite=True)
            started = time.monotonic()
            result = synthesize(settings, out)
            first = time.monotonic() - started
            calls = dict(analyst.calls)
            started = time.monotonic()
            synthesize(settings, out)
            resume = time.monotonic() - started
        report = json.loads((out / "synth-report.json").read_text())
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        summary = {"sources": args.sources, "wall_seconds": round(first, 1), "resume_seconds": round(resume, 1),
                   "model_calls": calls, "kept_tasks": result.kept_tasks, "examples": result.examples,
                   "peak_rss_mb": round(peak_mb), "concurrency": args.concurrency}
        if args.json:
            print(json.dumps({"summary": summary, "first_run_stages": _first_stages(result)}, indent=2))
            return
        print("\n".join(report_lines({**report, "stages": _first_stages(result)})))
        print(f"\nfirst run {first:.1f} s; model calls {calls}; a rerun into the same folder {resume:.1f} s "
              f"(every stage reused); peak RSS of this process {peak_mb:.0f} MB")


def _first_stages(result) -> list[dict]:
    return [{"stage": name, "unit": st.unit, "in": st.input, "out": st.output, "dropped": st.dropped,
             "pending": st.pending, "reused": st.reused, "seconds": round(st.seconds, 2), "notes": st.notes}
            for name, st in result.stages.items()]


if __name__ == "__main__":
    main()
