"""The AutoML baseline: no language model, one fixed plan for every prediction task.

It plays four code cells and an answer:

1. the helper module ``automl_sandbox.py`` (shipped beside this file) and a
   call that finds the task's files under ``/data``, reads them and prints a
   profile: shapes, column kinds, the sample submission, the target(s) and the
   task type chosen for each;
2. ``fit_and_submit``: features (numbers, categories, dates, image pixels,
   RDKit fingerprints of SMILES, single-cell expression), a cross-validated
   LightGBM model per target (scikit-learn's HistGradientBoosting where
   LightGBM is missing) against a linear model, the CV score, and
   ``/workspace/submission.csv`` in the sample's column and id order;
3. ``!check-submission`` to validate the file's format;
4. ``<answer>submitted ...</answer>`` with a one-line summary.

When a cell fails (an exception, a cell timeout, a dead kernel) or the check
finds problems, it writes a prior-only submission instead (the target's median,
most frequent class or class shares, in the sample's format) and checks again,
so every task ends with a valid file.  What the sandbox runs is the module's
real source, so the trajectory shows every line of it.

Knobs (constructor keywords, all in ``config()``): ``folds`` (5), ``seed`` (0).  No wall-clock
budget: the in-sandbox code does a fixed amount of work for given data (the same submission
every time); what it cut to stay within it is in ``degraded`` (and so in the episode record
and the run's summary).  A model cell that outlives the env's ``cell_timeout`` is interrupted
and the agent falls back to priors, saying so in its answer.
"""

from __future__ import annotations

import json
import pprint
import re
from importlib import resources
from typing import Any

from dsgym.agents.base import Agent
from dsgym.task import Task

# Markers the cells print on success.  They count only at the start of an output
# line, and the code never spells them out whole, so a traceback quoting the
# code that prints them cannot fake them.
PROFILED = "AUTOML_PROFILED"
RESULT = "AUTOML_RESULT "
FALLBACK_DONE = "AUTOML_FALLBACK_WRITTEN"


def sandbox_source() -> str:
    """The in-sandbox helper module's source, as sent in the first cell."""
    return resources.files("dsgym.agents").joinpath("automl_sandbox.py").read_text(encoding="utf-8")


def task_hints(task: Task) -> dict[str, Any]:
    """What the task tells the agent (never the hidden labels): files, columns, metric.

    ``metric`` is dsgym's name for the metric the task is graded by (``dsgym.predict.metrics``,
    the same code the sandbox scores with), read from the task's metric or, for a competition
    only Kaggle scores, from the competition metric's name; ``metric_params`` are the params
    to score it with.
    """
    metadata = task.metadata or {}
    keywords = metadata.get("keywords") if isinstance(metadata.get("keywords"), list) else []
    names = [task.metric, *(v for v in task.metric_params.values() if isinstance(v, str)),
             metadata.get("evaluation_metric"), metadata.get("metric"), *keywords[-1:]]
    from dsgym.extras import need

    need("pandas", "the automl agent")
    from dsgym.predict import metrics

    metric = next((m for m in map(metrics.metric_from_text, names) if m is not None), None)
    params: dict[str, Any] = {}
    if metric is not None:
        accepted = metric.accepted_params()
        params = {**{k: v for k, v in task.metric_params.items() if k in accepted}, **metric.params}
    hints: dict[str, Any] = {"metric": metric.name if metric else None, "metric_name": task.metric,
                             "metric_params": _jsonable(params), "data_files": list(task.data_files)}
    if spec := task.prediction:
        hints.update(sample_submission=spec.sample_submission, id_column=spec.id_column,
                     target_columns=list(spec.target_columns), submission_file=spec.submission_file)
    return hints


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class AutoMLAgent(Agent):
    name = "automl"

    def __init__(self, folds: int = 5, seed: int = 0, **_ignored: Any) -> None:
        super().__init__()
        if folds < 2:
            raise ValueError("folds must be at least 2")
        self.folds, self.seed = int(folds), int(seed)
        self.stage = "done"
        self.degraded: list[str] = []

    def config(self) -> dict[str, Any]:
        return {"agent": self.name, "folds": self.folds, "seed": self.seed}

    def start(self, task: Task, prompt: str, info: dict[str, Any] | None = None) -> None:
        self.reset_usage()
        self.task = task
        self.hints = task_hints(task)
        self.degraded = []
        self.stage = "profile" if task.kind == "prediction" else "not_prediction"
        self.kernel_lost = False
        self.fell_back = False
        self.summary = ""

    def act(self, observation: str | None) -> str:
        observation = observation or ""
        if "[kernel died]" in observation:
            self.kernel_lost = True
        stage, self.stage = self.stage, "done"
        if stage == "not_prediction":
            return "<answer>the automl agent only plays prediction tasks</answer>"
        if stage == "profile":
            self.stage = "fit"
            return self._cell(self._profile_code())
        if stage == "fit":
            if not _marked(observation, PROFILED):
                return self._fallback("profiling failed")
            self.stage = "check"
            return self._cell(f"result = fit_and_submit(problem, folds={self.folds}, seed={self.seed})")
        if stage == "check":
            if not _marked(observation, RESULT):
                return self._fallback("the model cell failed")
            self.summary, self.degraded = _summary(observation)
            self.stage = "verdict"
            return self._cell(self._check_code())
        if stage == "verdict":
            if _checked_ok(observation) or _cannot_check(observation) or self.fell_back:
                return self._answer()
            return self._fallback("check-submission found problems")
        if stage == "fallback_check":
            if not _marked(observation, FALLBACK_DONE):
                return self._answer()
            self.stage = "final"
            return self._cell(self._check_code())
        return self._answer()

    # -- cells ---------------------------------------------------------------------------------

    def _cell(self, code: str) -> str:
        return f"<python>\n{code.strip()}\n</python>"

    def _hints_code(self) -> str:
        return f"HINTS = {pprint.pformat(self.hints, sort_dicts=False, width=100)}\n"

    def _profile_code(self) -> str:
        return (f"{sandbox_source().rstrip()}\n\n\n"
                "# -- this task ----------------------------------------------------------------------\n"
                f"{self._hints_code()}"
                "problem = profile_task(HINTS)\n"
                f"{_print_marker(PROFILED)}\n")

    def _check_code(self) -> str:
        args = [f"/workspace/{self.hints.get('submission_file') or 'submission.csv'}"]
        if self.hints.get("sample_submission"):
            args += ["--sample", f"/data/{self.hints['sample_submission']}"]
        return "!check-submission " + " ".join(args)

    def _fallback(self, why: str) -> str:
        """A prior-only submission; the helper module is sent again if the kernel lost it."""
        self.fell_back = True
        self.summary = f"fallback (priors only): {why}"
        self.degraded.append(f"no model: {why}; a prior-only submission")
        self.stage = "fallback_check"
        head = f"# {why}: write a prior-only submission in the sample's format instead\n"
        if self.kernel_lost or why == "profiling failed":
            head += sandbox_source().rstrip() + "\n\n\n"
        return self._cell(head + self._hints_code() + "fallback_submission(HINTS)\n"
                          f"{_print_marker(FALLBACK_DONE)}\n")

    def _answer(self) -> str:
        self.stage = "done"
        return f"<answer>submitted: automl baseline, {self.summary or 'no model summary'}</answer>"


def _print_marker(marker: str) -> str:
    head, tail = marker.split("_", 1)
    return f'print("{head}_" "{tail}")'


def _marked(observation: str, marker: str) -> bool:
    return any(line.startswith(marker) for line in observation.splitlines())


def _summary(observation: str) -> tuple[str, list[str]]:
    """('gbm, CV rmse 0.1234', what the work budget cut) from the model cell's AUTOML_RESULT line."""
    lines = [line for line in observation.splitlines() if line.startswith(RESULT)]
    line = lines[-1][len(RESULT):] if lines else ""
    try:
        result = json.loads(line)
        targets = result["targets"]
        degraded = [str(d) for d in result.get("degraded") or []]
    except (ValueError, KeyError, TypeError, AttributeError):
        return "model trained", []
    parts = [f"{column}: {r['model']}, {r['folds']}-fold CV {r['metric']} {r['cv']:.4f}"
             + (f" (threshold {r['threshold']:.3f})" if r.get("threshold") is not None else "")
             for column, r in targets.items()]
    if len(parts) > 3:
        parts = parts[:3] + [f"and {len(parts) - 3} more targets"]
    if degraded:
        parts.append(f"degraded: {'; '.join(degraded)}")
    return "; ".join(parts), degraded


def _checked_ok(observation: str) -> bool:
    return any(line.startswith("OK:") for line in observation.splitlines())


def _cannot_check(observation: str) -> bool:
    """No checker in this image, or no sample to check against: nothing a fallback would fix."""
    return "cannot check:" in observation or bool(re.search(r"check-submission: (command )?not found", observation))
