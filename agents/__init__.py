"""Agent scaffolds (importable as ``dsgym.agents``)."""

from __future__ import annotations

from dsgym.agents.automl import AutoMLAgent
from dsgym.agents.base import Agent
from dsgym.agents.oracle import OracleAgent
from dsgym.agents.react import CodeActAgent, ReActAgent

AGENTS: dict[str, type[Agent]] = {"oracle": OracleAgent, "react": ReActAgent, "codeact": CodeActAgent,
                                   "automl": AutoMLAgent}


class UnknownAgentError(ValueError):
    """An agent name that is neither built in nor ``module:Class`` (a ValueError: its text prints as is)."""


def load_agent(name: str, **kwargs) -> Agent:
    """A built-in agent by name, or ``module:Class`` for a scaffold of your own."""
    if name in AGENTS:
        return AGENTS[name](**kwargs)
    if ":" in name:
        import importlib

        module, _, attr = name.partition(":")
        cls = getattr(importlib.import_module(module), attr)
        return cls(**kwargs)
    import difflib

    close = difflib.get_close_matches(name, AGENTS, n=2)
    hint = f"did you mean: {' or '.join(close)}? " if close else ""
    raise UnknownAgentError(f"unknown agent {name!r}; {hint}built-in: {', '.join(AGENTS)}, or module:Class "
                            "for an agent of your own")


__all__ = ["AGENTS", "Agent", "AutoMLAgent", "CodeActAgent", "OracleAgent", "ReActAgent", "UnknownAgentError",
           "load_agent"]
