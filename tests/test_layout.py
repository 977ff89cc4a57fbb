"""The package's shape: no import circles, one engine, one log, one grader, one sandbox factory, defaults once."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from tests.support.helpers import REPO

# source folder -> the package name it is installed as (pyproject maps agents/ and synth/ into dsgym)
PACKAGES = {"dsgym": "dsgym", "agents": "dsgym.agents", "synth": "dsgym.synth"}


def _modules() -> dict[str, Path]:
    found = {}
    for folder, package in PACKAGES.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = [p for p in path.relative_to(REPO / folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def _imports(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Modules of the package that ``module`` imports anywhere (functions too), except under TYPE_CHECKING."""
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def owner(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        out |= {target for name in names if (target := owner(name)) and target != module}
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_circle():
    known = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        graph[module] = _imports(module, path, known)
    assert _cycles(dict(graph)) == []


def test_the_checker_sees_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _sources() -> dict[Path, str]:
    return {path: path.read_text() for folder in PACKAGES for path in (REPO / folder).rglob("*.py")}


def test_work_is_scheduled_by_the_engine_only():
    """No thread pool of work items outside the engine.  Allowed: Ray's own wait in its backend, and the RL
    integrations' lockstep stepping of one batch (TRL's rollout, verifiers' asyncio bridge), which are not queues."""
    pools = {path.relative_to(REPO).as_posix() for path, text in _sources().items()
             if re.search(r"ThreadPoolExecutor\(|ray\.wait\(|as_completed\(", text)}
    assert pools <= {"dsgym/ray_backend.py", "dsgym/rl/verifiers_env.py", "dsgym/rl/trl.py"}, pools


def test_one_sandbox_factory_and_no_limits_read_from_prompts():
    sources = _sources()
    factories = [p.relative_to(REPO).as_posix() for p, text in sources.items()
                 if "DockerSandbox(" in text and p.name not in ("docker.py",)]
    assert factories == []
    agents = "".join(text for path, text in sources.items() if path.parts[-2] == "agents")
    assert not re.search(r"re\.compile\([^)]*(turns|per code cell)", agents)


def test_the_env_defaults_are_written_once():
    """20 turns, 120 s a cell, 1800 s an episode: in dsgym/config.py and nowhere else."""
    pattern = re.compile(r"(max_turns\s*[:=][^,\n]*\b20\b|cell_timeout\s*[:=][^,\n]*\b120(\.0)?\b|"
                         r"episode_budget\s*[:=][^,\n]*\b1800(\.0)?\b|Option\((20|120\.0|1800\.0),)")
    places = sorted(p.relative_to(REPO).as_posix() for p, text in _sources().items() if pattern.search(text))
    assert places == ["dsgym/config.py"], places
