"""The execution-verified synthesis pipeline (importable as ``dsgym.synth``; CLI ``dsgym synth``).

    from dsgym.synth import SynthSettings, synthesize
    result = synthesize(SynthSettings(sources=["dsgym-tasks-lite", "my_data/"], model="qwen2.5-coder-7b",
                                      base_url="http://localhost:8000/v1", rollouts=3), "runs/synth")
    result.stages["verify"].dropped, result.examples, result.sft_dir

Datasets are profiled in a sandbox, a model proposes questions, an agent plays
each k times, every answered trajectory is re-executed from scratch and kept only
if the re-run shows its answer, a majority must agree (the consensus becomes the
reference), and shortcut, difficulty and near-duplicate filters run before the
SFT export.  See ``docs/synth.md``.
"""

from dsgym.synth.budget import Budget, BudgetExhausted
from dsgym.synth.pipeline import STAGES, SynthResult, synthesize
from dsgym.synth.report import StageStats
from dsgym.synth.settings import SynthError, SynthSettings
from dsgym.synth.sources import Dataset, SourceError, discover

__all__ = ["STAGES", "Budget", "BudgetExhausted", "Dataset", "SourceError", "StageStats", "SynthError",
           "SynthResult", "SynthSettings", "discover", "synthesize"]
