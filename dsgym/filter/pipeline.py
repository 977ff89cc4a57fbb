"""``filter_suite``: run the checks over a suite, persist results as they come, write the filtered suite.

One engine (``dsgym.engine``) runs two lanes at once: blind-probe samples
(``llm_concurrency`` requests in flight) and sandbox work (``concurrency`` tasks at
a time; each task's runs - reference, repeat, perturbed copies - one after
another, each in a fresh sandbox).  Finished parts are appended to the state file
(a ``RunLog``) from the calling thread;
the decisions and every output file are computed at the end from the stored
results, so the output is a pure function of (suite, checks, settings, cache).
"""

from __future__ import annotations

import os
import shlex
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from dsgym import engine, shutdown
from dsgym.filter.checks import (BLIND_PROBE, CHECKS, DATA_FILES, DETERMINISTIC, DUPLICATE, GROUNDING,
                                 REPRODUCES, SANDBOX_CHECKS, WELL_FORMED, CheckResult, same_answer)
from dsgym.filter.execution import Cancelled, Run, SandboxRunner
from dsgym.filter.grounding import (FileDigests, PerturbationStore, grounding_complete, grounding_result,
                                    grounding_runs)
from dsgym.filter.output import (FilterError, TaskReport, summary, write_manifest, write_readme,
                                 write_report)
from dsgym.filter.perturb import PERTURBATION_VERSION, PERTURBATIONS
from dsgym.filter.probe import probe_complete, probe_key, probe_result, run_sample
from dsgym.filter.quality import (data_files_result, deterministic_result, duplicate_results,
                                  reproduces_result, well_formed_result)
from dsgym.filter.recorded import ANSWERS_FILE, RecordedAnswers, grade, keep_copy, load_answers
from dsgym.filter.state import STATE_FILE, digest, open_state
from dsgym.llm import RUN_CACHE, LLMClient, chosen_cache_dir
from dsgym.runlog import RunLog
from dsgym.sandbox.spec import SandboxSpec
from dsgym.task import Suite, Task, load_manifest

SANDBOX_VERSION = 1
Progress = Callable[[dict[str, Any]], None]


@dataclass
class FilterResult:
    """What ``filter_suite`` did: the filtered suite, the decisions, and what was (re)computed."""

    name: str
    out_dir: Path
    manifest: Path
    report_jsonl: Path
    report_md: Path
    reports: list[TaskReport]
    stats: dict[str, Any]
    computed: list[str] = field(default_factory=list)  # "<task>:<part>" computed by this run
    reused: list[str] = field(default_factory=list)  # "<task>:<part>" taken from the state file
    suite: Suite | None = None
    filter_block: dict[str, Any] = field(default_factory=dict)  # the manifest's "filter" block

    @property
    def kept(self) -> list[str]:
        return [r.task for r in self.reports if r.keep]

    @property
    def dropped(self) -> list[str]:
        return [r.task for r in self.reports if not r.keep]

    @property
    def errors(self) -> list[str]:
        """Tasks with a check that errored (kept for now; a rerun retries them)."""
        return [r.task for r in self.reports if any(c.status == "error" for c in r.checks.values())]


def resolve_suite(suite: str | os.PathLike[str] | Suite) -> Suite:
    if isinstance(suite, Suite):
        return suite
    path = Path(suite)
    if path.is_dir() or path.name == "manifest.json":
        return load_manifest(path)
    from dsgym.registry import get_suite

    return get_suite(str(suite))


def task_fingerprint(task: Task, digests: FileDigests) -> dict[str, Any]:
    data = {rel: (digests(path) if path.exists() else None) for rel, path in task.data_paths().items()}
    return {"id": task.id, "question": task.question, "context": task.context, "guideline": task.guideline,
            "metric": task.metric, "metric_params": task.metric_params, "answer": task.answer,
            "solution": task.solution, "kind": task.kind, "data": data}


def filter_suite(
    suite: str | os.PathLike[str] | Suite,
    out_dir: str | os.PathLike[str],
    *,
    model: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    client: LLMClient | None = None,
    samples: int = 5,
    threshold: float = 0.5,
    temperature: float = 0.7,
    max_tokens: int | None = None,
    checks: Iterable[str] | None = None,
    concurrency: int = 2,
    llm_concurrency: int = 8,
    timeout: float = 300.0,
    seed: int = 0,
    perturbations: Iterable[str] = PERTURBATIONS,
    name: str | None = None,
    copy_data: bool = False,
    sandbox: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    register: bool = True,
    progress: Progress | None = None,
    blind_answers: str | os.PathLike[str] | None = None,
    blind_answers_note: str | None = None,
) -> FilterResult:
    """Filter ``suite`` (a name, a suite folder or a ``Suite``) into ``out_dir``.

    Writes ``manifest.json`` (suite ``name``, default ``<suite>-filtered``; data and
    solutions referenced by relative path, or copied with ``copy_data``),
    ``filter-report.jsonl``, ``filter-report.md``, ``README.md`` and the resume state
    ``filter-state.jsonl``.  The blind probe runs when ``model`` (or ``client``) is given,
    against ``base_url`` (any OpenAI-compatible endpoint); with ``blind_answers`` (a JSONL
    file, see ``dsgym.filter.recorded``) it grades those recorded answers instead, keeps a
    copy of the file in ``out_dir`` and records where they came from (``blind_answers_note``:
    the model and how it was asked).  ``progress`` is called from
    the calling thread after each finished part with ``{"task", "part", "done", "total"}``;
    an exception it raises stops the run (finished parts stay saved).
    """
    source = resolve_suite(suite)
    out = Path(out_dir)
    chosen = tuple(CHECKS) if checks is None else tuple(dict.fromkeys(checks))
    unknown = [c for c in chosen if c not in CHECKS]
    if unknown:
        raise FilterError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(CHECKS)}")
    perturbations = tuple(perturbations)
    if bad := [p for p in perturbations if p not in PERTURBATIONS]:
        raise FilterError(f"unknown perturbation(s) {', '.join(bad)}; known: {', '.join(PERTURBATIONS)}")
    if samples < 1 or not 0.0 < threshold <= 1.0 or concurrency < 1 or llm_concurrency < 1 or timeout <= 0:
        raise FilterError("need samples >= 1, 0 < threshold <= 1, concurrency >= 1, llm_concurrency >= 1, "
                          "timeout > 0")
    if out.absolute() == source.root.absolute():
        raise FilterError("the output folder must not be the source suite's folder")
    recorded: RecordedAnswers | None = None
    if blind_answers is not None:
        if model or client is not None:
            raise FilterError("recorded blind answers replace a live model: give blind_answers (--blind-answers) "
                              "or model (--model), not both")
        if BLIND_PROBE not in chosen:
            raise FilterError("blind answers were given but the blind_probe check is not selected")
        recorded = load_answers(blind_answers, source, blind_answers_note)  # every line checked before any work
    name = name or f"{source.name}-filtered"
    tasks = list(source.tasks.values())
    digests = FileDigests()

    probe_client = client
    if BLIND_PROBE in chosen and probe_client is None and model:
        # this output folder's replies, unless a cache shared across runs is asked for
        probe_client = LLMClient(model, base_url=base_url, api_key=api_key, temperature=temperature,
                                 max_tokens=max_tokens, cache_dir=chosen_cache_dir(cache_dir) or out / RUN_CACHE)
    probing = BLIND_PROBE in chosen and probe_client is not None
    boxed = tuple(c for c in SANDBOX_CHECKS if c in chosen)
    image = None
    if boxed:
        from dsgym.sandbox.images import image_tag

        image = image_tag(source.image)

    settings = {"version": SANDBOX_VERSION, "checks": boxed, "perturbations": perturbations,
                "perturbation_version": PERTURBATION_VERSION, "seed": seed,
                "timeout": timeout, "image": image, "sandbox": sandbox or os.environ.get("DSGYM_SANDBOX", "docker")}
    keys: dict[tuple[str, str], str] = {}
    for task in tasks:
        if probing and task.kind == "answer":
            keys[(task.id, "probe")] = probe_key(task, probe_client, samples, temperature, max_tokens)
        if boxed:
            keys[(task.id, "sandbox")] = digest({"task": task_fingerprint(task, digests), "settings": settings})

    state, stored = open_state(out / STATE_FILE)
    try:
        results: dict[tuple[str, str], dict[str, Any]] = {}
        computed, reused = [], []
        for (task_id, part), key in keys.items():
            record = stored.get((task_id, part, key))
            if record is not None:
                results[(task_id, part)] = record["result"]
                reused.append(f"{task_id}:{part}")
        todo = [(task, part) for task in tasks for part in ("probe", "sandbox")
                if (task.id, part) in keys and (task.id, part) not in results]
        if recorded is not None:
            for task_id, answers in recorded.by_task.items():
                results[(task_id, "probe")] = {"samples": grade(source.tasks[task_id], answers)}
        if todo:
            stop = threading.Event()
            with tempfile.TemporaryDirectory(prefix="dsgym-filter-") as scratch:
                runner = store = None
                if any(part == "sandbox" for _, part in todo):
                    # made in this thread: a sandbox kind may install exit handlers
                    runner = SandboxRunner(SandboxSpec(sandbox, image).factory(), timeout, stop)
                    store = PerturbationStore(Path(scratch) / "perturbed", seed, digests)
                probe = partial(run_sample, client=probe_client, temperature=temperature, max_tokens=max_tokens)
                boxes = partial(sandbox_part, runner=runner, store=store, boxed=boxed, perturbations=perturbations)
                _execute(todo, keys, samples, probe, boxes, concurrency=concurrency,
                         llm_concurrency=llm_concurrency, stop=stop, state=state, results=results,
                         computed=computed, progress=progress)
    finally:
        state.close()

    reports = decide(tasks, chosen, results, samples, threshold, probing, digests, recorded)
    stats = summary(reports)
    if recorded is not None:
        not_probed = [t.id for t in tasks if t.kind == "answer" and t.id not in recorded.by_task]
        blind_probe: dict[str, Any] | str = recorded.provenance(not_probed, threshold)
        keep_copy(recorded, out)
    elif probing:
        blind_probe = {"model": probe_client.model, "samples": samples, "threshold": threshold,
                       "temperature": temperature}
    else:
        blind_probe = "not run: not selected" if BLIND_PROBE not in chosen else "not run: no model given"
    filter_block = {
        "source": {"suite": source.name, "version": source.version, "tasks": len(tasks),
                   "tasks_that_did_not_load": len(source.errors)},
        "checks": list(chosen), "sandbox_checks": bool(boxed), "seed": seed, "timeout": timeout,
        "data": "copied" if copy_data else "referenced",
        "perturbations": list(perturbations) if GROUNDING in chosen else [],
        "blind_probe": blind_probe,
        "kept": stats["kept"], "dropped": stats["dropped"], "dropped_by": stats["dropped_by"],
    }
    kept_tasks = [task for task, report in zip(tasks, reports) if report.keep]
    manifest = write_manifest(out, source, name, kept_tasks, filter_block, copy_data)
    jsonl, md = write_report(out, reports, stats, name, filter_block)
    write_readme(out, name, stats, filter_block, command_line(source.name, out, chosen, probing, probe_client,
                                                              samples, threshold, temperature, seed, copy_data,
                                                              name, recorded))
    loaded = None
    if register:
        from dsgym.registry import register_suite

        loaded = register_suite(out)
    return FilterResult(name, out, manifest, jsonl, md, reports, stats, computed, reused, loaded, filter_block)


def command_line(suite: str, out: Path, chosen: tuple[str, ...], probing: bool, client: LLMClient | None,
                 samples: int, threshold: float, temperature: float, seed: int, copy_data: bool,
                 name: str, recorded: RecordedAnswers | None = None) -> str:
    parts = ["dsgym", "filter", suite, "--out", "<this folder>"]
    if recorded is not None:
        parts += ["--blind-answers", f"<this folder>/{ANSWERS_FILE}", "--threshold", f"{threshold:g}"]
        if recorded.note:
            parts += ["--blind-answers-note", recorded.note]
    elif probing and client is not None:
        parts += ["--model", client.model, "--base-url", "<endpoint>", "--samples", str(samples),
                  "--threshold", f"{threshold:g}", "--temperature", f"{temperature:g}"]
    if tuple(chosen) != CHECKS:
        parts += ["--checks", ",".join(chosen)]
    if seed:
        parts += ["--seed", str(seed)]
    if copy_data:
        parts.append("--copy-data")
    if name != f"{suite}-filtered":
        parts += ["--name", name]
    return " ".join(p if p.startswith("<") else shlex.quote(p) for p in parts)


# ----- the work ------------------------------------------------------------------------------


def sandbox_part(task: Task, runner: SandboxRunner, store: PerturbationStore, boxed: tuple[str, ...],
                 perturbations: tuple[str, ...]) -> dict[str, Any]:
    """The reference run (+ load check), a second run, and the perturbed runs of one task."""
    files = {rel: path for rel, path in task.data_paths().items() if path.exists()}
    solve = bool(task.solution) and task.kind == "answer" and any(
        c in boxed for c in (REPRODUCES, DETERMINISTIC, GROUNDING))
    result: dict[str, Any] = {}
    if not solve and not (DATA_FILES in boxed and files):
        return result
    run = runner.solution(task.solution if solve else None, files, load_check=DATA_FILES in boxed and bool(files))
    result["run"] = run.to_dict()
    if not solve or run.infra:
        return result
    if DETERMINISTIC in boxed:
        result["rerun"] = runner.solution(task.solution, files).to_dict()
    if GROUNDING in boxed and task.data_files and run.answer is not None:
        stored_ok = same_answer(task, run.answer, task.answer)[0]
        result["reference"] = "stored" if stored_ok else "computed"
        reference = task.answer if stored_ok else run.answer
        result["grounding"] = grounding_runs(task, reference, store, runner, perturbations)
    return result


def sandbox_complete(result: dict[str, Any]) -> bool:
    runs = [result.get("run") or {}, result.get("rerun") or {}]
    return not any(r.get("infra") for r in runs) and grounding_complete(result.get("grounding"))


@dataclass(frozen=True)
class _Part:
    """One unit of work: a blind-probe sample (lane ``llm``) or a task's sandbox runs (lane ``sandbox``)."""

    task: Task
    part: str
    index: int = 0

    @property
    def lane(self) -> str:
        return "llm" if self.part == "probe" else "sandbox"


def _execute(todo: list[tuple[Task, str]], keys: dict[tuple[str, str], str], samples: int,
             probe: Callable[..., dict[str, Any]], boxes: Callable[[Task], dict[str, Any]], *, concurrency: int,
             llm_concurrency: int, stop: threading.Event, state: RunLog,
             results: dict[tuple[str, str], dict[str, Any]], computed: list[str], progress: Progress | None) -> None:
    """Run the ``todo`` parts on one engine, model calls and sandboxes in lanes of their own; persist and
    report each part from this thread as it finishes.

    An exception from persisting or from ``progress`` stops new work, lets the work in
    flight end (its results are dropped) and is raised then; Ctrl-C removes the sandboxes
    in flight at once.
    """
    total = len(todo)
    parts = [_Part(task, part, index) for task, part in todo
             for index in (range(samples) if part == "probe" else (0,))]
    samples_of: dict[str, dict[int, dict[str, Any]]] = {task.id: {} for task, part in todo if part == "probe"}
    done_parts = 0
    failure: list[BaseException] = []

    def work(item: _Part) -> dict[str, Any]:
        if item.part == "probe":
            return probe(item.task, index=item.index)
        try:
            return boxes(item.task)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or a broken sandbox must not end the run
            return {"run": Run(error=f"{type(exc).__name__}: {exc}"[:1000], infra=True).to_dict()}

    def finished(item: _Part, value: dict[str, Any] | None, error: BaseException | None) -> None:
        nonlocal done_parts
        if failure or isinstance(error, Cancelled):
            return  # the run is stopping: what ends now is dropped, as if never started
        if error is not None:
            raise error
        task_id = item.task.id
        if item.part == "probe":
            samples_of[task_id][item.index] = value
            if len(samples_of[task_id]) < samples:
                return
            result = {"samples": [samples_of[task_id][i] for i in range(samples)]}
            complete = probe_complete(result["samples"])
        else:
            result = value
            complete = sandbox_complete(result)
        try:
            state.append({"task": task_id, "part": item.part, "key": keys[(task_id, item.part)],
                          "complete": complete, "result": result})
            results[(task_id, item.part)] = result
            computed.append(f"{task_id}:{item.part}")
            done_parts += 1
            if progress is not None:
                progress({"task": task_id, "part": item.part, "done": done_parts, "total": total,
                          "complete": complete})
        except Exception as exc:  # noqa: BLE001 - raised once the work in flight has ended
            failure.append(exc)
            stop.set()

    def aborted(inflight: list[_Part], exc: BaseException) -> None:
        stop.set()
        if not isinstance(exc, Exception):  # Ctrl-C, SIGTERM, SIGHUP: end the runs in flight now
            shutdown.remove_sandboxes()

    lanes = engine.Lanes(parts, lambda item: item.lane, {"llm": llm_concurrency, "sandbox": concurrency})
    engine.run(lanes, work, backend=engine.ThreadBackend("dsgym-filter"), on_done=finished,
               window=llm_concurrency + concurrency, stop=stop, on_abort=aborted)
    if failure:
        raise failure[0]


# ----- the decisions -------------------------------------------------------------------------


def decide(tasks: list[Task], chosen: tuple[str, ...], results: dict[tuple[str, str], dict[str, Any]],
           samples: int, threshold: float, probing: bool, digests: FileDigests,
           recorded: RecordedAnswers | None = None) -> list[TaskReport]:
    duplicates = duplicate_results(tasks, digests) if DUPLICATE in chosen else {}
    reports = []
    for task in tasks:
        box = results.get((task.id, "sandbox"), {})
        run, rerun = box.get("run"), box.get("rerun")
        checks: dict[str, CheckResult] = {}
        for check in CHECKS:
            if check not in chosen:
                checks[check] = CheckResult("skip", "not selected")
            elif check == BLIND_PROBE:
                if not probing and recorded is None:
                    checks[check] = CheckResult("skip", "not run: no model given")
                elif task.kind != "answer":
                    checks[check] = CheckResult("skip", "prediction task: no answer to guess")
                elif recorded is not None and task.id not in recorded.by_task:
                    checks[check] = CheckResult("skip", f"not probed: {ANSWERS_FILE} has no answer for this task")
                else:
                    found = results.get((task.id, "probe"), {}).get("samples", [])
                    k = len(found) if recorded is not None else samples
                    checks[check] = probe_result(task, found, k, threshold)
            elif check == GROUNDING:
                reference = run.get("answer") if run and box.get("reference") == "computed" else task.answer
                checks[check] = grounding_result(task, run, box.get("grounding"), reference)
            elif check == REPRODUCES:
                checks[check] = reproduces_result(task, run)
            elif check == DETERMINISTIC:
                checks[check] = deterministic_result(task, run, rerun)
            elif check == WELL_FORMED:
                checks[check] = well_formed_result(task)
            elif check == DATA_FILES:
                checks[check] = data_files_result(task, run)
            elif check == DUPLICATE:
                checks[check] = duplicates[task.id]
        reports.append(TaskReport(task.id, checks))
    return reports
