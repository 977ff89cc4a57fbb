"""``dsgym export``: suites written out for other harnesses (``dsgym export harbor``), a run's answers for a
benchmark's own leaderboard (``dsgym export dabstep``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)
export_app = typer.Typer(no_args_is_help=True, help="Write a suite in another harness's task format, or a run's "
                                                   "answers in a leaderboard's submission format.")


@export_app.command("harbor")
def harbor_command(
    suite: str = typer.Argument(..., help="A registered suite, e.g. dsgym-tasks-lite, dsbio-lite, dspredict-lite."),
    out: str = typer.Option(..., "--out", "-o", help="Folder to write one Harbor task folder per task into."),
    task: Optional[list[str]] = typer.Option(None, "--task", "-t", help="Only this task (repeatable)."),
    force: bool = typer.Option(False, "--force", help="Replace task folders that already exist."),
) -> None:
    """Export SUITE as Harbor task folders (task.toml, instruction.md, environment/, tests/, solution/)."""
    from dsgym.export.harbor_export import ExportError, export_suite
    from dsgym.registry import UnknownEnvError

    try:
        done = export_suite(suite, out, task_ids=task or None, force=force)
    except (ExportError, UnknownEnvError) as exc:
        err.print(f"[red]error:[/red] {escape(str(exc.args[0] if exc.args else exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    err.print(f"wrote {len(done.tasks)} Harbor task(s) of {suite} into {done.root}; run them with "
              f"`harbor run -p {done.root} -a oracle` (docs/harbor.md)", highlight=False, soft_wrap=True)


@export_app.command("dabstep")
def dabstep_command(
    run: Path = typer.Argument(..., help="A run folder of dsgym eval that played dabstep (or dsgym-tasks) tasks."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="The JSONL file to write "
                                       "(default: RUN/dabstep-submission.jsonl)."),
    sample: int = typer.Option(0, "--sample", help="Which sample of each task to submit (runs with --samples)."),
) -> None:
    """Write RUN's DABStep answers in the DABStep leaderboard's submission format (task_id, agent_answer,
    reasoning_trace), one line per task; unfinished tasks are written empty and listed here."""
    from dsgym.export.dabstep import DABStepExportError, export_run

    try:
        done = export_run(run, out, sample=sample)
    except DABStepExportError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if done.unfinished:
        err.print(f"{len(done.unfinished)} task(s) not finished, written with an empty answer (scored wrong): "
                  f"{escape(', '.join(done.unfinished))}", highlight=False, soft_wrap=True)
    err.print(f"wrote {done.written} DABStep answer(s) to {done.path}; submit it on the DABStep leaderboard "
              "(docs/suites.md, DABStep)", highlight=False, soft_wrap=True)
