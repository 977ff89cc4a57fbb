"""Reinforcement-learning integrations: TRL, OpenEnv and verifiers over dsgym's sandboxes.

Each trainer-specific module imports its library lazily, so ``dsgym.rl`` itself
needs nothing beyond dsgym; install ``dsgym[trl]``, ``dsgym[openenv]`` or
``dsgym[verifiers]`` for the one you use.  ``docs/rl.md`` says which to pick.
"""

from dsgym.rl.session import SessionError, ToolSession, suite_pool

__all__ = ["SessionError", "ToolSession", "suite_pool"]
