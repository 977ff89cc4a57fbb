"""``dsgym fetch``: get official suites into the user cache (see ``dsgym.fetch``)."""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True)


def fetch_command(
    suites: list[str] = typer.Argument(..., help="Official suites: dsbio, qrdata, daeval, dabstep, discoverybench, "
                                       "scienceagentbench, dspredict-easy, dspredict-hard; dsgym-tasks (the five "
                                       "analysis suites) or all."),
    source: Optional[str] = typer.Option(None, "--from", help="Where the release is: a Git URL, a file:// URL or "
                                         "a local clone (default: $DSGYM_OFFICIAL_URL, else the official repository)."),
    dest: Optional[str] = typer.Option(None, "--dir", help="Cache folder (default: $DSGYM_HOME/official, else "
                                       "the user cache, e.g. ~/.cache/dsgym/official)."),
) -> None:
    """Fetch official suites (task files and only the data they need); fetching again is a no-op."""
    from dsgym.fetching import DiskFullError, FetchError, fetch

    try:
        done = fetch(*suites, source=source, dest=dest)
    except FetchError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(4 if isinstance(exc, DiskFullError) else 2) from None
    except OSError as exc:  # a disk error git did not name, or the cache folder cannot be made
        err.print(f"[red]error:[/red] {escape(str(exc))}; the cache is as it was", highlight=False, soft_wrap=True)
        raise typer.Exit(4) from None
    there = [name for name in done.suites if name not in done.new]
    if done.new:
        err.print(f"fetched {', '.join(done.new)} at commit {done.commit[:12]} into {done.root}", highlight=False)
    if there:
        err.print(f"already fetched: {', '.join(there)}", highlight=False)
    for note in done.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
