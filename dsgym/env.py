"""DSGymEnv: one data-science task per episode, played in a fresh sandbox through text actions."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
import time
import uuid
from pathlib import Path
from typing import Any, SupportsFloat

import gymnasium as gym

from dsgym import registry
from dsgym.actions import FORMAT_HELP, Action, format_execution, parse_action, truncate
from dsgym.config import DEFAULTS, EnvConfig
from dsgym.fetching import missing_data_hint
from dsgym.figures import FigureLimits, FigureStore
from dsgym.grading import grade, metric_used
from dsgym.sandbox import Limits, Sandbox, SandboxBroken, SandboxError, SandboxPool, SandboxSpec
from dsgym.sandbox.base import CopyOutError, PendingCell
from dsgym.sandbox.gpus import require as require_gpus
from dsgym.sandbox.images import ImageBuildError, build_on_demand, image_tag
from dsgym.spaces import UnicodeText
from dsgym.task import Suite, Task

MAX_ACTION_CHARS = 100_000
MAX_OBSERVATION_CHARS = DEFAULTS.max_observation_chars
MAX_SUBMISSION_BYTES = 256 << 20
COPY_OUT_SECONDS = 120.0  # host-side bound on copying the submission out of the frozen sandbox


INTERFACES = {
    "text": "Reply with <python>code</python> to run code in a persistent Jupyter kernel, or "
            "<answer>final answer</answer> to submit and end the episode.",
    "tools": "Call the run_python tool to run code in a persistent Jupyter kernel, and the "
             "submit_answer tool with your final answer to end the episode.",
}


class MissingDataError(FileNotFoundError):
    """The task's data files are not on this machine (official releases omit some)."""


@dataclass
class PendingStep:
    """A turn begun by ``DSGymEnv.step_begin``: its action, its info so far, its cell in flight (or the
    error that kept it from starting)."""

    parsed: Action
    text: str | None
    t0: float
    info: dict[str, Any]
    remaining: float
    timeout: float = 0.0
    cell: PendingCell | SandboxError | None = None


class DSGymEnv(gym.Env[str, str]):
    """A Gymnasium env over one suite: a fixed task, or one drawn per ``reset(seed=...)``.

    Limits, named so they are not confused:

    - ``cell_timeout``: seconds one code cell may run before the kernel is interrupted
      (the episode goes on; the agent is told);
    - ``episode_budget``: wall-clock seconds for the whole episode, from ``reset``;
      when spent, the episode is truncated;
    - ``max_turns``: actions per episode (code, answer or malformed), then truncated.

    ``interface`` only changes what the prompt tells the agent: ``"text"`` asks for
    ``<python>``/``<answer>`` replies (fed to ``step``), ``"tools"`` names the
    ``run_python``/``submit_answer`` tools of ``dsgym.rl`` (fed to ``act``).  ``scoring`` is
    the scoring profile: ``dsgym`` (the task's own metric) or ``official`` (the official
    release's grader where a suite has one; docs/scoring.md); the final info names it and the
    metric used (``scoring``, ``metric``).
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        suite: str | Suite,
        task_id: str | None = None,
        *,
        max_turns: int = DEFAULTS.max_turns,
        cell_timeout: float = DEFAULTS.cell_timeout,
        episode_budget: float = DEFAULTS.episode_budget,
        max_output_chars: int = DEFAULTS.max_output_chars,
        max_observation_chars: int = DEFAULTS.max_observation_chars,
        sandbox: str | None = DEFAULTS.sandbox,
        image: str | None = DEFAULTS.image,
        limits: Limits | None = DEFAULTS.limits,
        pool: SandboxPool | None = None,
        pool_size: int = 0,
        artifacts_dir: str | Path | None = None,
        figure_limits: FigureLimits | None = None,
        render_mode: str | None = None,
        interface: str = DEFAULTS.interface,
        gpus: str | None = DEFAULTS.gpus,
        scoring: str = DEFAULTS.scoring,
        variant: int | str | None = None,
    ):
        # a Suite object (say, one task of a synthesis run) is used as given, without the registry
        self.suite = suite if isinstance(suite, Suite) else registry.get_suite(suite)
        self.fixed_task = registry.task_in(self.suite, task_id) if task_id else None
        if not self.suite.tasks:
            raise ValueError(f"suite {self.suite.name!r} has no tasks")
        self.config = EnvConfig(max_turns=max_turns, cell_timeout=cell_timeout, episode_budget=episode_budget,
                                max_output_chars=max_output_chars, max_observation_chars=max_observation_chars,
                                sandbox=sandbox, image=image, limits=limits, interface=interface, gpus=gpus,
                                scoring=scoring)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}")
        if interface not in INTERFACES:
            raise ValueError(f"interface must be one of {', '.join(INTERFACES)}, not {interface!r}")
        self.interface = interface
        self.variant = _variant_option(variant)
        self.max_turns = max_turns
        self.cell_timeout = cell_timeout
        self.episode_budget = episode_budget
        self.max_output_chars = max_output_chars
        self.max_observation_chars = max_observation_chars
        self.render_mode = render_mode
        self.sandbox_spec = SandboxSpec(sandbox, image or image_tag(self.suite.image), self._with_gpus(limits))
        self._factory = self.sandbox_spec.factory()
        self._owns_pool = pool is None and pool_size > 0
        self.pool = SandboxPool(self._factory, pool_size) if self._owns_pool else pool
        self.figures = FigureStore(artifacts_dir, figure_limits)
        self.action_space = UnicodeText(MAX_ACTION_CHARS)
        self.observation_space = UnicodeText(max_observation_chars)

        self.task: Task | None = None
        self.sandbox: Sandbox | None = None
        self.episode_id = ""
        self.turn = 0
        self.started = 0.0
        self.done = True
        self.transcript: list[str] = []
        self._begun: PendingStep | None = None  # a step_begin not finished yet

    # -- Gymnasium API -----------------------------------------------------------------------------

    def _with_gpus(self, limits: Limits | None) -> Limits | None:
        """The sandbox limits with the GPUs asked for, where the suite has prediction tasks (only they get GPUs).

        The host is checked here, so that asking a GPU-less machine for GPUs fails at ``make``.
        """
        wanted = self.config.gpus
        if wanted is None or not any(task.kind == "prediction" for task in self.suite.tasks.values()):
            return limits
        return dataclasses.replace(limits or Limits(), gpus=require_gpus(wanted))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._release()
        options = options or {}
        t0 = time.monotonic()
        self.task = self._pick_task(options.get("task_id"), _variant_option(options.get("variant", self.variant)))
        if missing := self.task.missing_data():
            raise MissingDataError(f"task {self.task.env_id} cannot start: data file(s) missing on this "
                                   f"machine: {', '.join(missing)} (looked in {self.task.data_root})."
                                   + missing_data_hint(self.task))
        self.sandbox = self.pool.acquire() if self.pool else self._start_sandbox()
        if clash := fixed_path_clash(self.task, self.sandbox):
            self._release()
            raise ValueError(clash)
        try:
            self.sandbox.put_data(self.task.data_paths())
        except Exception:
            self._release()
            raise
        self.episode_id = uuid.uuid4().hex[:12]
        self.figures.start_episode(f"{self.task.id}-{self.episode_id}")
        self.turn = 0
        self.started = time.monotonic()
        self.done = False
        prompt = truncate(self.render_prompt(), self.max_observation_chars)
        self.transcript = [prompt]
        info = {**self._base_info(), "reset_time": time.monotonic() - t0, "env_id": self.task.env_id,
                "category": self.task.metadata.get("category"), "task": self.task.public(),
                "limits": self.config.limits_info, "variant": self.task.metadata.get("variant"),
                "isolated": self.sandbox.isolated, "data_files": list(self.task.data_files),
                "data_dir": self.sandbox.data_dir, "workdir": self.sandbox.workdir}
        if self.sandbox.enforced:  # which limits hold and how (a bwrap sandbox without a cgroup holds fewer)
            info["sandbox_limits"] = dict(self.sandbox.enforced)
        return prompt, info

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """One turn; if ``step_begin(action)`` already sent this action's cell, its result is collected."""
        begun, self._begun = self._begun, None
        return self.step_end(begun if begun is not None and begun.text == action else self.step_begin(action))

    def step_begin(self, action: str) -> PendingStep:
        """The first half of ``step``: a code cell is sent to the kernel and not waited for, so that a
        vector env can send every env's cell before it collects any.  ``step(action)`` (or ``step_end``)
        finishes it; nothing else may happen to the env in between."""
        self._begun = self._begin(parse_action(action), action)
        return self._begun

    def act(self, parsed: Action, text: str | None = None) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """``step`` for an already structured action (a tool call); ``text`` is what the transcript records."""
        return self.step_end(self._begin(parsed, text))

    def _begin(self, parsed: Action, text: str | None) -> PendingStep:
        if self.done or self.task is None or self.sandbox is None:
            raise gym.error.ResetNeeded("the episode is over (or never started): call reset() first")
        t0 = time.monotonic()
        self.turn += 1
        info: dict[str, Any] = {**self._base_info(), "action_kind": parsed.kind, "code": None,
                                "figures": [], "kernel_restarted": False, "timed_out": False}
        pending = PendingStep(parsed, text, t0, info, self.episode_budget - (t0 - self.started))
        if parsed.kind == "code" and pending.remaining > 0:
            pending.timeout = min(self.cell_timeout, pending.remaining)
            info["code"] = parsed.content
            self.figures.start_cell(f"{self.task.id}-{self.episode_id}-t{self.turn}")
            try:
                pending.cell = self.sandbox.execute_begin(parsed.content, pending.timeout, on_image=self.figures.add)
            except SandboxError as exc:
                pending.cell = exc
        return pending

    def step_end(self, pending: PendingStep) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        """The second half of ``step``: the cell's result collected, the turn scored and recorded."""
        self._begun = None
        parsed, text, t0, info, remaining = pending.parsed, pending.text, pending.t0, pending.info, pending.remaining
        assert self.task is not None
        reward, terminated, truncated, reason = 0.0, False, False, None

        if remaining <= 0:
            observation, truncated, reason = "[episode budget spent] The episode's time is up.", True, "episode_budget"
        elif parsed.kind == "answer":
            observation = f"[answer submitted] {truncate(parsed.content, 500)}"
            terminated, reason = True, "answer"
            if self.task.kind == "answer":
                reward = self._score(parsed.content, info)
            else:
                info["answer"] = parsed.content
        elif parsed.kind == "code":
            observation, reason = self._cell_end(pending)
            terminated = reason == "sandbox_broken"  # the agent's code ended its own sandbox: scored 0
            truncated = reason is not None and not terminated
        else:
            observation = FORMAT_HELP
        if parsed.ignored:
            observation += "\n[note] Only the first action in your reply was used; the rest was ignored."
        if not (terminated or truncated) and self.turn >= self.max_turns:
            truncated, reason = True, "max_turns"
            observation += f"\n[episode over] The turn limit ({self.max_turns}) is reached."
        if terminated or truncated:
            reward = self._end(info, reason)
        observation = truncate(observation, self.max_observation_chars)
        info.update(step_time=time.monotonic() - t0, elapsed=time.monotonic() - self.started,
                    termination=reason)
        self.transcript += [text if text is not None else _action_text(parsed), observation]
        return observation, reward, terminated, truncated, info

    def finish(self, reason: str = "stopped") -> dict[str, Any]:
        """End the running episode from outside (a trainer's rollout stopped): grade it, free the sandbox.

        An answer task scores 0 (no answer); a prediction task's submission file is
        graded as if the agent had ended the episode.  Returns the final info.
        """
        if self.done or self.task is None:
            return {}
        info: dict[str, Any] = {**self._base_info(), "termination": reason}
        self._end(info, reason)
        return info

    def _end(self, info: dict[str, Any], reason: str | None) -> float:
        self.done = True
        assert self.task is not None
        reward = self._grade_submission(info) if self.task.kind == "prediction" else info.get("score", 0.0)
        info.setdefault("score", 0.0)
        info.setdefault("score_breakdown", {"reason": f"no answer ({reason})"})
        info.update(scoring=self.config.scoring, metric=metric_used(self.task, self.config.scoring).metric)
        if (variant := self.task.metadata.get("variant")) and isinstance(info["score_breakdown"], dict):
            info["score_breakdown"]["variant"] = {**variant, **_variant_meaning(self.task)}
        self._release()
        return reward

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return "\n\n".join(self.transcript)
        return None

    def close(self) -> None:
        self._release()
        self.figures.close()
        if self._owns_pool and self.pool is not None:
            self.pool.close()
            self.pool = None
        super().close()

    # -- helpers -----------------------------------------------------------------------------------

    def render_prompt(self) -> str:
        """The task as the agent first sees it: context, question, format, files, rules."""
        task, sandbox = self.task, self.sandbox
        assert task is not None and sandbox is not None
        lines = task_brief(task, sandbox.data_dir, sandbox.workdir, "by running `!check-submission` in a code cell")
        lines += ["", INTERFACES[self.interface],
                  f"Limits: {self.max_turns} turns, {self.cell_timeout:g} s per code cell, "
                  f"{self.episode_budget:g} s for the whole episode."]
        return "\n".join(lines)

    def _score(self, answer: str, info: dict[str, Any]) -> float:
        """Grade the answer host-side; a grading failure is recorded as score 0, never raised."""
        assert self.task is not None
        info["answer"] = answer
        try:
            score = grade(self.task, answer, scoring=self.config.scoring)
        except Exception as exc:  # noqa: BLE001 - e.g. an unknown metric or an unconfigured judge
            info.update(score=0.0, score_breakdown={"error": f"{type(exc).__name__}: {exc}"},
                        error=f"scoring failed: {exc}")
            return 0.0
        info.update(score=score.value, score_breakdown=score.breakdown)
        return score.value

    def _grade_submission(self, info: dict[str, Any]) -> float:
        """Freeze the sandbox, stream the submission into the artifacts folder, grade it from there.

        Frozen first, so nothing the agent started can change the file or hold up the copy;
        the copy is bounded on the host (``MAX_SUBMISSION_BYTES``, ``COPY_OUT_SECONDS``).
        A file that cannot be copied out is an invalid submission with the copy's reason
        (``too_large``, ``timed_out``, ``not_a_file``, ``unreadable``); a task that cannot
        be graded here is recorded as a scoring failure, like an answer metric that fails.
        """
        from dsgym.extras import need

        need("pandas", "grading a prediction task's submission")
        from dsgym.predict.grade import GradingError, invalid

        assert self.task is not None and self.task.prediction is not None and self.sandbox is not None
        path = f"{self.sandbox.workdir}/{self.task.prediction.submission_file}"
        saved = self.artifacts_dir / f"{self.task.id}-{self.episode_id}-{Path(path).name}"
        try:
            self.sandbox.freeze()
            size = self.sandbox.copy_out(path, saved, max_bytes=MAX_SUBMISSION_BYTES, timeout=COPY_OUT_SECONDS)
        except SandboxError as exc:  # too large, too slow, not a file, or the container is gone
            reason = exc.reason if isinstance(exc, CopyOutError) else "unreadable"
            score = invalid(self.task, reason, f"could not copy {path} out: {exc}")
            info.update(score=score.value, score_breakdown=score.breakdown)
            return score.value
        if size is not None:
            info["submission"] = str(saved)
        try:
            score = grade(self.task, submission=saved if size is not None else None, scoring=self.config.scoring)
        except GradingError as exc:
            info.update(score=0.0, score_breakdown={"error": str(exc)}, error=f"scoring failed: {exc}")
            return 0.0
        info.update(score=score.value, score_breakdown=score.breakdown)
        return score.value

    def _pick_task(self, task_id: str | None, variant: int | str | None = None) -> Task:
        """The episode's task: the one asked, the fixed one or a drawn one; then its variant, if one is asked
        (``"fresh"``: a seed drawn from ``np_random``, so a seeded reset gives the same variant)."""
        if task_id:
            task = registry.task_in(self.suite, task_id)
        elif self.fixed_task is not None:
            task = self.fixed_task
        else:
            ids = sorted(self.suite.tasks)
            task = self.suite.tasks[ids[int(self.np_random.integers(len(ids)))]]
        if variant is None:
            return task
        from dsgym.variants import variant_task

        seed = int(self.np_random.integers(2**31)) if variant == "fresh" else int(variant)
        return variant_task(task, seed, image=self.sandbox_spec.image)

    def _start_sandbox(self) -> Sandbox:
        sandbox = self._factory()
        try:
            sandbox.start()
        except SandboxError as exc:
            if not self._build_missing_image(exc):
                raise
            sandbox = self._factory()
            sandbox.start()
        return sandbox

    def _build_missing_image(self, failure: SandboxError) -> bool:
        """Build the suite's image if it is one built on first need (``images.ON_DEMAND``) and is missing,
        saying so on stderr; True if it was built (the sandbox can start again)."""
        if self.sandbox_spec.resolved_kind not in ("docker", "bwrap"):
            return False
        try:
            built = build_on_demand({self.suite.image: self.sandbox_spec.image},
                                    lambda line: print(line, file=sys.stderr, flush=True))
        except ImageBuildError as exc:
            raise SandboxError(f"{failure}; building the {self.suite.image} image failed: {exc}") from exc
        return bool(built)

    def _cell_end(self, pending: PendingStep) -> tuple[str, str | None]:
        """Collect the cell ``_begin`` sent; return the observation and a truncation reason (or None)."""
        info, timeout = pending.info, pending.timeout
        assert self.sandbox is not None
        try:
            if isinstance(pending.cell, SandboxError):
                raise pending.cell
            result = self.sandbox.execute_end(pending.cell)
        except SandboxBroken as exc:
            info.update(score=0.0, score_breakdown={"reason": f"the sandbox was broken from inside: {exc}"})
            return (f"[sandbox broken] {exc}. Code run in the sandbox ended it: the episode is over and scores 0.",
                    "sandbox_broken")
        except SandboxError as exc:
            info["error"] = str(exc)
            return f"[sandbox failed] {exc}. The episode cannot go on.", "sandbox_error"
        info.update(figures=self.figures.saved, kernel_restarted=result.kernel_restarted,
                    kernel_restarts=self.sandbox.kernel_restarts,
                    timed_out=result.timed_out, cell_time=result.duration,
                    error=result.error.ename if result.error else None)
        if result.cpu is not None:
            info["cell_cpu"] = result.cpu.to_dict()
            info["load_suspect"] = result.timed_out and result.cpu.starved()
        observation = format_execution(result, self.max_output_chars, self.figures.notes())
        if result.timed_out and timeout < self.cell_timeout:
            return observation + "\n[episode budget spent] The episode's time is up.", "episode_budget"
        return observation, None

    @property
    def artifacts_dir(self) -> Path:
        """Where figures and submissions are saved: the ``artifacts_dir`` option, else a
        ``dsgym-figures-*`` temp folder made on first use, holding only the current episode's
        files and removed by ``close()``."""
        return self.figures.folder

    def _base_info(self) -> dict[str, Any]:
        assert self.task is not None
        return {"task_id": self.task.id, "suite": self.task.suite, "episode_id": self.episode_id,
                "turn": self.turn,
                "kernel_restarts": self.sandbox.kernel_restarts if self.sandbox else 0}

    def _release(self) -> None:
        self._begun = None  # a cell still running goes with its sandbox
        if self.sandbox is not None:
            sandbox, self.sandbox = self.sandbox, None
            sandbox.close()


def fixed_path_clash(task: Task, sandbox: Sandbox) -> str | None:
    """Why ``task``'s own text cannot be followed in ``sandbox`` (None: it can).

    A prompt naming ``/data/...`` itself (not through the data list, which names the
    sandbox's own folder) needs a sandbox that serves the data there; the local sandbox
    keeps it in a temp folder and never writes to the host's ``/data``.
    """
    if sandbox.data_dir == "/data":
        return None
    if any("/data/" in (text or "") for text in (task.question, task.context, task.guideline)):
        return (f"task {task.env_id} names files under /data/ in its prompt, which this sandbox serves at "
                f"{sandbox.data_dir} (the local sandbox has no isolation and never writes to the host's /data): "
                "use the docker or bwrap sandbox")
    return None


def task_brief(task: Task, data_dir: str, workdir: str, check_how: str) -> list[str]:
    """What any harness shows of a task (context, question, format, data files, submission), without
    the rules of its interface; ``check_how`` says how the submission checker is run there.
    Shared by the env's prompt and the Harbor export's instruction.md."""
    lines = task.statement()
    lines.append(f"Data files (read-only, under {data_dir}):")
    for name, path in task.data_paths().items():
        lines.append(f"  {data_dir}/{name}  ({_human_size(path)})")
    if not task.data_files:
        lines.append("  (none)")
    lines.append(f"Working directory (writable, empty): {workdir}")
    if spec := task.prediction:
        lines += ["", f"Submission: write {workdir}/{spec.submission_file} "
                      f"with the columns {', '.join([spec.id_column, *spec.target_columns])}"
                      + (f", like {data_dir}/{spec.sample_submission}" if spec.sample_submission else "")
                      + ". It is copied out and graded against hidden labels when the episode ends.",
                  f"Check its format (columns, ids, row count; no score is shown) {check_how}."]
    return lines


def make(env_id: str, **options: Any) -> DSGymEnv:
    """``dsgym.make``: the env of ``"<suite>"`` or ``"<suite>/<task-id>"``, its Gymnasium spec carrying the options."""
    suite, task = registry.resolve(env_id)
    env = DSGymEnv(suite.name, task.id if task else None, **options)
    spec = gym.spec(task.env_id if task else f"dsgym/{suite.name}")
    env.spec = dataclasses.replace(spec, kwargs={**spec.kwargs, **options})
    return env


def _variant_option(variant: Any) -> int | str | None:
    """``variant=``: None (the original task), a non-negative integer seed, or ``"fresh"``."""
    if variant is None or variant == "fresh":
        return variant
    if isinstance(variant, bool) or not isinstance(variant, int) or variant < 0:
        raise ValueError(f"variant must be None, a non-negative integer seed or 'fresh', not {variant!r}")
    return variant


def _variant_meaning(task: Task) -> dict[str, str]:
    if task.kind != "prediction":
        return {"gold": "the reference solution's answer on the variant's data"}
    return {"labels": "the hidden labels of the re-drawn split",
            "standing": "on the original split's baselines, each moved by the reference solution's change in "
                        "the metric between the original split and this one (docs/variants.md)"}


def _action_text(action: Action) -> str:
    if action.kind == "invalid":
        return action.ignored
    tag = "python" if action.kind == "code" else "answer"
    return f"<{tag}>{action.content}</{tag}>"


def _human_size(path: Path) -> str:
    try:
        size = path.stat().st_size if path.is_file() else sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return "missing"
    if size < 1024:
        return f"{size} B"
    for unit in ("KB", "MB", "GB"):
        size /= 1024
        if size < 1024 or unit == "GB":
            break
    return f"{size:.1f} {unit}"
