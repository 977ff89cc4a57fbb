"""``dsgym filter``: the shortcut-solvability filter from the command line (registered by ``dsgym.cli``).

    dsgym filter dsgym-tasks-lite --out filtered/ --model gpt-4o-mini --base-url http://localhost:8000/v1 \\
        --samples 5 --threshold 0.5
    dsgym filter dsgym-tasks-lite --write-blind-prompts prompts.jsonl       # collect answers elsewhere, then
    dsgym filter dsgym-tasks-lite --out filtered/ --blind-answers answers.jsonl --blind-answers-note "..."

Exit status: 0 when every check ran, 1 when some check errored (the output is still
written; rerun to retry those), 2 for bad arguments or an unknown suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from dsgym.filter.checks import CHECKS
from dsgym.filter.output import FilterError
from dsgym.filter.perturb import PERTURBATIONS


def filter_command(
    suite: str = typer.Argument(..., help="A suite name, or a suite folder holding manifest.json."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the filtered suite, the report and "
                                                                 "the resume state (rerun with the same folder to "
                                                                 "resume). Required unless --write-blind-prompts."),
    model: Optional[str] = typer.Option(None, help="Model for the blind probe; without it the probe is skipped."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL "
                                                      "or OpenAI's)."),
    api_key: Optional[str] = typer.Option(None, help="API key (default $OPENAI_API_KEY).", show_default=False),
    samples: int = typer.Option(5, "--samples", "-k", help="Blind answers per task."),
    threshold: float = typer.Option(0.5, help="Blind pass rate at or above which a task is dropped."),
    temperature: float = typer.Option(0.7, help="Sampling temperature of the blind probe."),
    max_tokens: Optional[int] = typer.Option(None, help="Token cap of a blind answer."),
    checks: Optional[str] = typer.Option(None, help=f"Comma-separated checks to run (default all: "
                                                    f"{','.join(CHECKS)})."),
    perturbations: Optional[str] = typer.Option(None, help=f"Comma-separated perturbations, in order (default "
                                                           f"{','.join(PERTURBATIONS)})."),
    concurrency: int = typer.Option(2, "--concurrency", "-j", help="Tasks checked in sandboxes at once."),
    llm_concurrency: int = typer.Option(8, help="Blind-probe requests in flight at once."),
    timeout: float = typer.Option(300.0, help="Seconds one run of a reference solution may take."),
    seed: int = typer.Option(0, help="Seed of the perturbations."),
    name: Optional[str] = typer.Option(None, help="Name of the filtered suite (default <suite>-filtered)."),
    copy_data: bool = typer.Option(False, "--copy-data", help="Copy data and solutions into the output folder "
                                                               "instead of referencing the source suite's."),
    sandbox: Optional[str] = typer.Option(None, help="docker (default) or local; env DSGYM_SANDBOX."),
    blind_answers: Optional[Path] = typer.Option(
        None, "--blind-answers", help="Grade recorded blind answers instead of asking a model: JSONL, one "
                                      "{task, sample, answer, model} per line (see docs/filter.md). A copy is "
                                      "kept in the output folder."),
    blind_answers_note: Optional[str] = typer.Option(
        None, "--blind-answers-note", help="Which model made the recorded answers and how (provider, settings, "
                                           "date); kept in the filtered suite's manifest and README."),
    write_blind_prompts: Optional[Path] = typer.Option(
        None, "--write-blind-prompts", help="Write the blind probe's prompt for every answer task to this JSONL "
                                            "file (task, system, prompt, prompt_sha256) and exit."),
    llm_cache: Optional[str] = typer.Option(None, "--llm-cache", "--cache-dir", help="A cache of model replies "
                                            "shared across runs: a folder, or 'shared' for the user cache's "
                                            "(default: <out>/llm-cache, this folder's own; env "
                                            "DSGYM_LLM_CACHE_DIR)."),
) -> None:
    """Drop tasks answerable without their data (blind probe, data grounding) or broken (quality checks)."""
    from dsgym import shutdown
    from dsgym.filter.pipeline import filter_suite
    from dsgym.registry import UnknownEnvError

    def split(value: Optional[str]) -> Optional[list[str]]:
        return None if value is None else [v.strip() for v in value.split(",") if v.strip()]

    def show(event: dict[str, Any]) -> None:
        flag = "" if event["complete"] else "  (incomplete: will be retried on rerun)"
        typer.echo(f"[{event['done']}/{event['total']}] {event['task']}: {event['part']} done{flag}", err=True)

    if write_blind_prompts is not None:
        from dsgym.filter.pipeline import resolve_suite
        from dsgym.filter.recorded import write_prompts

        try:
            count = write_prompts(resolve_suite(suite), write_blind_prompts)
        except (UnknownEnvError, ValueError, OSError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"wrote the blind probe's prompts for {count} answer task(s) to {write_blind_prompts}")
        return
    if out is None:
        typer.echo("error: --out is required (the folder for the filtered suite)", err=True)
        raise typer.Exit(2)
    shutdown.install()
    shutdown.reap(lambda line: typer.echo(line, err=True), sandbox)
    options: dict[str, Any] = {}
    if perturbations is not None:
        options["perturbations"] = split(perturbations)
    try:
        result = filter_suite(
            suite, out, model=model, base_url=base_url, api_key=api_key, samples=samples, threshold=threshold,
            temperature=temperature, max_tokens=max_tokens, checks=split(checks), concurrency=concurrency,
            llm_concurrency=llm_concurrency, timeout=timeout, seed=seed, name=name, copy_data=copy_data,
            sandbox=sandbox, cache_dir=llm_cache, register=False, progress=show, blind_answers=blind_answers,
            blind_answers_note=blind_answers_note, **options)
    except (FilterError, UnknownEnvError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt as exc:  # also SIGTERM and SIGHUP (dsgym.shutdown)
        typer.echo(f"{shutdown.cause(exc)}: the checks finished so far are kept in {out}; its sandboxes were "
                   "removed; rerun the same command to resume", err=True)
        raise typer.Exit(shutdown.exit_code(exc)) from None
    from dsgym.filter.output import summary_table

    typer.echo("\n".join(summary_table(result.stats)))
    typer.echo(f"\n{result.name}: kept {result.stats['kept']} of {result.stats['tasks']} tasks "
               f"({len(result.reused)} parts reused, {len(result.computed)} computed)")
    typer.echo(f"manifest: {result.manifest}\nreport:   {result.report_md}\n          {result.report_jsonl}")
    probe = result.filter_block.get("blind_probe") if result.filter_block else None
    if isinstance(probe, dict) and "answers" in probe:
        typer.echo(f"blind probe: {probe['count']} recorded answer(s) from {', '.join(probe['models'])} "
                   f"(sha256 {probe['sha256'][:16]}...); {len(probe['not_probed'])} answer task(s) not probed"
                   + (f": {', '.join(probe['not_probed'][:10])}" if probe["not_probed"] else ""))
    elif not model:
        typer.echo("blind probe: skipped (no --model or --blind-answers given)")
    if result.errors:
        typer.echo(f"{len(result.errors)} task(s) had a check that errored: {', '.join(result.errors[:10])}; "
                   "rerun the same command to retry them", err=True)
        raise typer.Exit(1)
