"""What a synthesis run is asked to do, and the error it stops with when it cannot."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dsgym.config import DEFAULTS
from dsgym.synth import export


class SynthError(RuntimeError):
    """The run cannot start or go on (bad settings, no sandbox, a source that is not there)."""


@dataclass
class SynthSettings:
    """What a synthesis run does; budgets and concurrency only limit one invocation."""

    sources: list[str]
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    questions: int = 5
    variants: int = 0  # each question also over this many seeded variants of its data (dsgym.synth.variants)
    generate_temperature: float = 0.7
    agent: str = "react"
    agent_kwargs: dict[str, Any] = field(default_factory=dict)
    rollouts: int = 3
    rollout_temperature: float = 0.7
    max_turns: int = 10
    cell_timeout: float = DEFAULTS.cell_timeout
    episode_budget: float = 900.0
    agreement: float = 0.5
    probe: bool = True
    probe_samples: int = 3
    probe_threshold: float = 0.5
    probe_temperature: float = 0.7
    dedup_threshold: float = 0.9
    trivial_cells: int = 1
    image: str | None = None
    sandbox: str | None = None
    observation_role: str = "user"
    export_suite: bool = False
    name: str | None = None
    max_tasks: int | None = None
    max_model_calls: int | None = None
    max_sandbox_time: float | None = None
    concurrency: int = 2
    backend: str = "local"
    address: str | None = None
    ray_cpus: float = 1.0
    llm_concurrency: int = 8
    cache_dir: str | None = None

    def check(self) -> None:
        if not self.sources:
            raise SynthError("give at least one source: a data folder, a data file or a suite name")
        if not self.model:
            raise SynthError("synthesis needs a model (--model, or $DSGYM_MODEL) behind an OpenAI-compatible "
                             "endpoint (--base-url)")
        if min(self.questions, self.rollouts, self.max_turns, self.concurrency, self.llm_concurrency,
               self.probe_samples) < 1:
            raise SynthError("questions, rollouts, max_turns, concurrency, llm_concurrency and probe_samples "
                             "must be at least 1")
        if not 0.0 <= self.agreement < 1.0 or not 0.0 < self.probe_threshold <= 1.0 \
                or not 0.0 < self.dedup_threshold <= 1.0:
            raise SynthError("need 0 <= agreement < 1, 0 < probe_threshold <= 1, 0 < dedup_threshold <= 1")
        if self.observation_role not in export.OBSERVATION_ROLES:
            raise SynthError(f"observation_role must be one of {', '.join(export.OBSERVATION_ROLES)}")
        if self.variants < 0:
            raise SynthError("variants must be >= 0")
        if self.max_tasks is not None and self.max_tasks < 0:
            raise SynthError("max_tasks must be >= 0")
        if self.backend not in ("local", "ray"):
            raise SynthError(f"backend must be local or ray, not {self.backend!r}")
        if self.backend == "ray" and self.max_model_calls is not None:
            raise SynthError("--max-model-calls counts the requests of this process; with --backend ray the "
                             "rollouts' requests are made on the workers: bound the run with --max-tasks and "
                             "--max-sandbox-time instead")
        if self.address and self.backend != "ray":
            raise SynthError("--address needs --backend ray")

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("api_key")
        return data
