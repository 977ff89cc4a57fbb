"""Stage 5: the verified trajectories as an SFT dataset, and optionally the verified tasks as a suite.

``<out>/sft/`` holds the ``datasets`` folder (``save_to_disk``; load it with
``datasets.load_from_disk``), the same rows as ``train.jsonl`` and
``train.parquet``, and a dataset card (``README.md``).  Each row's ``messages``
is the chat the model saw, rebuilt from the rollout's episode record (the same
record ``dsgym eval`` writes, whose turns keep each whole reply): system prompt,
task prompt, then its replies (``assistant``, reasoning and action) and the
environment's observations (``user``, or ``tool`` with ``observation_role="tool"``).
Everything is written to a temporary folder and renamed into place, so an
interrupted export never leaves half a dataset.

``<out>/suite/`` (``export_suite``; ``suite-<image>/`` per sandbox image when the
sources need several) is a suite folder ``dsgym.make`` can load: the kept tasks
with the consensus as their reference answer, data files hard-linked (or copied)
under ``data/<dataset>/``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from dsgym.agents.base import Agent
from dsgym.sandbox.base import link_or_copy
from dsgym.task import Task

OBSERVATION_ROLES = ("user", "tool")
COLUMNS = ("task_id", "dataset", "source", "question", "answer", "reference", "answer_type", "sample", "turns",
           "model", "agent")  # besides ``messages``


def sft_row(task: Task, record: dict[str, Any], reference: Any, agent: Agent,
            observation_role: str = "user") -> dict[str, Any]:
    """One training example: the rollout's chat, rebuilt by ``agent`` from the episode record, and its origin."""
    chat = agent.chat_from_record(task, record)
    if not chat:
        raise ValueError(f"rollout {record.get('task_id')}#{record.get('sample')}: the {record.get('agent')} "
                         "agent has no model, so there is no chat to export")
    messages = []
    for index, message in enumerate(chat):
        role = message["role"]
        if role == "user" and index > 1:  # the observations, after the system prompt and the task prompt
            role = observation_role
        messages.append({"role": role, "content": str(message.get("content") or "")})
    return {"messages": messages, "task_id": task.id, "dataset": task.metadata.get("dataset"),
            "source": task.metadata.get("source"), "question": task.question, "answer": str(record.get("answer")),
            "reference": json.dumps(reference), "answer_type": task.metadata.get("answer_type"),
            "sample": int(record.get("sample", 0)), "turns": len(record.get("turns", [])),
            "model": record.get("model") or "", "agent": record.get("agent") or ""}


def write_sft(rows: list[dict[str, Any]], out: Path, card: str) -> Path:
    """Save ``rows`` under ``out`` (replaced atomically) and return it."""
    import datasets

    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        text, number = datasets.Value("string"), datasets.Value("int64")
        features = datasets.Features({"messages": [{"role": text, "content": text}], **{
            name: number if name in ("sample", "turns") else text for name in COLUMNS}})
        bars = datasets.is_progress_bar_enabled()
        datasets.disable_progress_bars()  # the pipeline shows its own progress
        try:
            dataset = datasets.Dataset.from_dict({name: [row[name] for row in rows] for name in features},
                                                 features=features)
            dataset.save_to_disk(str(staging / "dataset"))
            dataset.to_json(str(staging / "train.jsonl"), lines=True, force_ascii=False)
            dataset.to_parquet(str(staging / "train.parquet"))
        finally:
            if bars:
                datasets.enable_progress_bars()
        (staging / "README.md").write_text(card, encoding="utf-8")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _replace(staging: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}-old-{os.getpid()}")
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def write_suite(tasks: list[tuple[Task, Any, dict[str, Any]]], out: Path, name: str, description: str,
                image: str) -> Path:
    """A suite folder of ``(task, reference, metadata)`` run in ``image``; data under ``data/<dataset>/``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        entries = []
        for task, reference, extra in tasks:
            dataset = task.metadata["dataset"]
            if variant := task.metadata.get("data_variant"):  # a variant's data beside the original's
                dataset = f"{dataset}.v{variant['seed']}"
            files = []
            for rel, src in task.data_paths().items():
                target = staging / "data" / dataset / rel
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if src.is_dir():
                        shutil.copytree(src, target, copy_function=link_or_copy)
                    else:
                        link_or_copy(str(src), str(target))
                files.append(f"{dataset}/{rel}")
            entries.append({"id": task.id, "question": task.question, "guideline": task.guideline,
                            "data_files": files, "metric": task.metadata["final_metric"],
                            "metric_params": task.metadata.get("final_metric_params", {}), "answer": reference,
                            "metadata": {**task.metadata, **extra}})
        manifest = {"suite": name, "version": "1", "description": description, "data_dir": "data",
                    "image": image, "tasks": entries}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False, default=str) + "\n")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out
