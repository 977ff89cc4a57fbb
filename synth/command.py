"""``dsgym synth``: the synthesis pipeline from the command line (registered by ``dsgym.cli``).

    dsgym synth dsgym-tasks-lite my_data/ --out runs/synth --model qwen2.5-coder-7b \\
        --base-url http://localhost:8000/v1 --rollouts 3 --questions 5 -j 4

Exit status: 0 when every task reached a verdict, 1 when some are pending (a budget
ran out, or a sandbox or model call failed: rerun the same command to continue),
2 for bad arguments (or no Docker daemon, a missing image, an unreachable model endpoint),
4 when the disk is full, 130 when interrupted (finished work is kept).
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dsgym.config import DEFAULTS


def synth_command(
    sources: list[str] = typer.Argument(..., help="Data folders, data files (csv, tsv, txt, parquet, h5ad, "
                                                  "json, xlsx) and/or suite names whose data to use."),
    out: Path = typer.Option(..., "--out", "-o", help="Run folder; rerun into it to resume."),
    model: Optional[str] = typer.Option(None, help="Model for questions, rollouts and the blind probe "
                                                   "(default $DSGYM_MODEL)."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint (default $DSGYM_BASE_URL, "
                                                      "$OPENAI_BASE_URL or OpenAI's)."),
    api_key: Optional[str] = typer.Option(None, help="API key (default $OPENAI_API_KEY).", show_default=False),
    questions: int = typer.Option(5, help="Questions asked per dataset."),
    rollouts: int = typer.Option(3, "--rollouts", "-k", help="Rollouts of the agent per question."),
    variants: int = typer.Option(0, "--variants", help="Also ask every question over this many seeded variants "
                                                       "of its data, each rolled out and verified on its own."),
    agent: str = typer.Option("react", help="Rollout scaffold: react or codeact (or module:Class)."),
    agent_arg: Optional[list[str]] = typer.Option(None, "--agent-arg", help="key=value (JSON value) passed to the "
                                                                            "agent, e.g. seed=0; repeatable."),
    temperature: float = typer.Option(0.7, help="Sampling temperature of the rollouts."),
    generate_temperature: float = typer.Option(0.7, help="Sampling temperature of question generation."),
    max_turns: int = typer.Option(10, help="Turns per rollout."),
    cell_timeout: float = typer.Option(DEFAULTS.cell_timeout,
                                       help="Seconds one code cell may run (rollouts and re-runs)."),
    agreement: float = typer.Option(0.5, help="A consensus needs more than this share of the rollouts."),
    probe: bool = typer.Option(True, "--probe/--no-probe", help="Drop questions the model answers without data."),
    probe_samples: int = typer.Option(3, help="Blind answers per question."),
    probe_threshold: float = typer.Option(0.5, help="Blind pass rate at or above which a question is dropped."),
    dedup_threshold: float = typer.Option(0.9, help="TF-IDF cosine at or above which questions over the same "
                                                    "data are near-duplicates."),
    trivial_cells: int = typer.Option(1, help="A question every rollout solves in this many code cells or fewer "
                                              "is dropped as trivial."),
    image: Optional[str] = typer.Option(None, help="Sandbox image for folder sources (default: bio if they hold "
                                                   ".h5ad files, else default)."),
    sandbox: Optional[str] = typer.Option(None, help="docker (default) or local (NOT isolated); env DSGYM_SANDBOX."),
    observation_role: str = typer.Option("user", help="Role of observation turns in the export: user or tool."),
    export_suite: bool = typer.Option(False, "--export-suite", help="Also write the verified tasks as a suite."),
    name: Optional[str] = typer.Option(None, help="Name of the dataset and suite (default synth-<out folder>)."),
    max_tasks: Optional[int] = typer.Option(None, help="Budget: questions rolled out at most (after dedup)."),
    max_model_calls: Optional[int] = typer.Option(None, help="Budget: model requests this invocation may send "
                                                             "(cached replies are free)."),
    max_sandbox_time: Optional[float] = typer.Option(None, help="Budget: sandbox seconds this invocation may use."),
    concurrency: int = typer.Option(2, "--concurrency", "-j", help="Sandboxes at once (with --backend ray: tasks "
                                                                  "in flight; 1 means what the cluster fits)."),
    backend: str = typer.Option("local", help="local, or ray: rollouts, re-runs and profiles as Ray tasks "
                                              "(pip install 'dsgym[ray]')."),
    address: Optional[str] = typer.Option(None, help="Ray cluster: auto, ray://host:10001, or none for a local Ray."),
    ray_cpus: float = typer.Option(1.0, help="CPUs Ray reserves per sandbox task."),
    llm_concurrency: int = typer.Option(8, help="Question-generation and probe requests in flight at once."),
    llm_cache: Optional[str] = typer.Option(None, "--llm-cache", "--cache-dir", help="A cache of model replies "
                                            "shared across runs: a folder, or 'shared' for the user cache's "
                                            "(default: <out>/llm-cache, this folder's own; env "
                                            "DSGYM_LLM_CACHE_DIR)."),
) -> None:
    """Turn datasets into execution-verified SFT trajectories (profile, generate, roll out, verify, filter, export)."""
    from dsgym import shutdown
    from dsgym.synth import SynthError, SynthSettings, synthesize
    from dsgym.synth.pipeline import STAGES
    from dsgym.synth.report import report_lines

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    kwargs = {}
    for item in agent_arg or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            err.print(f"error: --agent-arg takes key=value, not {item!r}")
            raise typer.Exit(2)
        try:
            kwargs[key] = json.loads(value)
        except ValueError:
            kwargs[key] = value
    settings = SynthSettings(
        sources=list(sources), model=model or os.environ.get("DSGYM_MODEL"),
        base_url=base_url or os.environ.get("DSGYM_BASE_URL"), api_key=api_key, questions=questions, variants=variants,
        generate_temperature=generate_temperature, agent=agent, agent_kwargs=kwargs, rollouts=rollouts,
        rollout_temperature=temperature, max_turns=max_turns, cell_timeout=cell_timeout, agreement=agreement,
        probe=probe, probe_samples=probe_samples, probe_threshold=probe_threshold, dedup_threshold=dedup_threshold,
        trivial_cells=trivial_cells, image=image, sandbox=sandbox, observation_role=observation_role,
        export_suite=export_suite, name=name, max_tasks=max_tasks, max_model_calls=max_model_calls,
        max_sandbox_time=max_sandbox_time, concurrency=concurrency, llm_concurrency=llm_concurrency,
        backend=backend, address=address, ray_cpus=ray_cpus,
        cache_dir=llm_cache)
    shutdown.install()
    shutdown.reap(err.print, sandbox)
    columns = [TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=err, transient=False) as progress:
        bars = {stage: progress.add_task(stage, total=None, visible=False) for stage in STAGES}

        def show(stage: str, done: int, total: int) -> None:
            progress.update(bars[stage], completed=done, total=total, visible=True)

        try:
            result = synthesize(settings, out, progress=show)
        except SynthError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt as exc:  # also SIGTERM and SIGHUP (dsgym.shutdown)
            err.print(f"{shutdown.cause(exc)}: finished work is kept in {out}; its sandboxes were removed; "
                      "rerun the same command to continue")
            raise typer.Exit(shutdown.exit_code(exc)) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            err.print(f"error: the disk holding {out} is full ({exc.strerror}); finished work is kept. Free "
                      "some space and rerun the same command to continue.")
            raise typer.Exit(4) from None
    report = json.loads((out / "synth-report.json").read_text())
    typer.echo("\n".join(report_lines(report)))
    typer.echo(f"\nSFT dataset: {result.sft_dir}/dataset (datasets.load_from_disk), train.jsonl, train.parquet, "
               "README.md")
    for folder in result.suite_dirs:
        typer.echo(f"suite: {folder} (DSGYM_SUITES={folder} or dsgym.register_suite)")
    if not result.complete:
        why = f"stopped by the {result.stopped_by}" if result.stopped_by else "some work failed"
        typer.echo(f"{result.pending} task(s) pending ({why}); rerun the same command to continue", err=True)
        raise typer.Exit(1)
