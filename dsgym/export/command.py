"""``dsgym export``: suites written out for other harnesses (``dsgym export harbor``)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)
export_app = typer.Typer(no_args_is_help=True, help="Write a suite in another harness's task format.")


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
