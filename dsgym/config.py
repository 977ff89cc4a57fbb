"""``EnvConfig``: an episode's options with their defaults, written once for the env, the CLI, eval, synth, RL
and ``dsgym serve``.

Limits, named so they are not confused: ``cell_timeout`` (seconds one code cell may run
before the kernel is interrupted; the episode goes on), ``episode_budget`` (wall-clock
seconds of the whole episode, from ``reset``; then it is truncated and scored),
``max_turns`` (actions per episode).  The runner's hard deadline per episode, retries
included, defaults to ``hard_deadline(episode_budget)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from dsgym.sandbox.gpus import normalize as normalize_gpus
from dsgym.scoring.profiles import check_profile
from dsgym.sandbox.base import Limits


@dataclass(frozen=True)
class EnvConfig:
    max_turns: int = 20
    cell_timeout: float = 120.0
    episode_budget: float = 1800.0
    max_output_chars: int = 4000  # of one cell's output in an observation
    max_observation_chars: int = 100_000  # of one whole observation; the observation space declares it
    sandbox: str | None = None  # a sandbox kind (None: $DSGYM_SANDBOX, else docker)
    image: str | None = None  # an image tag instead of the suite's own
    limits: Limits | None = None  # the sandbox's resources (None: the suite's, via admission control)
    interface: str = "text"  # what the prompt asks for: <python>/<answer> text, or tool calls
    gpus: str | None = None  # GPUs for prediction tasks' sandboxes: "all" or "0,1" (docker only; off by default)
    scoring: str = "dsgym"  # the scoring profile: dsgym's metrics, or "official" (the release's; docs/scoring.md)

    def __post_init__(self) -> None:
        if min(self.max_turns, self.cell_timeout, self.episode_budget, self.max_output_chars) <= 0:
            raise ValueError("max_turns, cell_timeout, episode_budget and max_output_chars must be positive")
        if self.max_observation_chars < 1000:
            raise ValueError("max_observation_chars must be at least 1000 (the end-of-episode notes must fit)")
        object.__setattr__(self, "gpus", normalize_gpus(self.gpus))  # a GpuError (ValueError) when malformed
        check_profile(self.scoring)  # an UnknownProfileError (ValueError) names the profiles

    @classmethod
    def from_options(cls, options: dict[str, Any] | None = None, **more: Any) -> EnvConfig:
        """From a dict of options (a run manifest's ``env_options``); unknown names are an error."""
        given = {**(options or {}), **more}
        known = {f.name for f in fields(cls)}
        if unknown := sorted(set(given) - known):
            raise ValueError(f"unknown env option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        if isinstance(given.get("limits"), dict):
            given["limits"] = Limits(**given["limits"])
        return cls(**given)

    def replace(self, **changes: Any) -> EnvConfig:
        return replace(self, **changes)

    def to_options(self) -> dict[str, Any]:
        """Keyword arguments for ``DSGymEnv`` / ``dsgym.make``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, for manifests."""
        return asdict(self)

    @property
    def limits_info(self) -> dict[str, Any]:
        """The limits as ``reset``'s info hands them to agents."""
        return {"max_turns": self.max_turns, "cell_timeout": self.cell_timeout, "episode_budget": self.episode_budget}


DEFAULTS = EnvConfig()


def hard_deadline(episode_budget: float) -> float:
    """The runner's default hard wall-clock seconds per episode, retries included: room for two tries and teardown."""
    return 2 * episode_budget + 60
