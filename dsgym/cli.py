"""The ``dsgym`` command."""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from dsgym.config import DEFAULTS, hard_deadline

# Commands of the heavier parts, imported only when run (or asked for their own --help), so that
# `dsgym --help` and `dsgym tasks list` never import openai, pandas or the synth pipeline.
LAZY_COMMANDS = {
    "filter": ("dsgym.filter.command:filter_command",
               "Drop shortcut-solvable, ungrounded or broken tasks from a suite."),
    "synth": ("dsgym.synth.command:synth_command", "Turn datasets into execution-verified SFT trajectories."),
    "serve": ("dsgym.rl.serve_command:serve_command",
              "Serve dsgym environments to RL trainers under the OpenEnv contract."),
    "fetch": ("dsgym.fetch_command:fetch_command",
              "Fetch official suites (task files and the data they need) into the user cache."),
    "export": ("dsgym.export.command:export_app",
               "Export a suite for another harness (harbor) or a run's answers for a leaderboard (dabstep)."),
}


def _plain_help(command: TyperCommand) -> TyperCommand:
    """Escape rich markup in a command's help texts (recursively): ``'dsgym[ray]'`` stays visible.

    No help text of dsgym means markup, so brackets are always literal.
    """
    if getattr(command, "_dsgym_plain", False):
        return command
    for attr in ("help", "short_help", "epilog"):
        if getattr(command, attr, None):
            setattr(command, attr, escape(getattr(command, attr)))
    for param in command.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
    command._dsgym_plain = True  # type: ignore[attr-defined]
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)
    return command


def _load_lazy(name: str) -> TyperCommand:
    import importlib

    from dsgym.extras import EXTRA_OF, hint

    target, help_text = LAZY_COMMANDS[name]
    module, _, attr = target.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:  # an extra this command needs
        if (exc.name or "").split(".")[0] not in EXTRA_OF:
            raise
        fail(hint(exc.name, f"dsgym {name}"))
    if isinstance(obj, typer.Typer):  # a group of its own (export harbor, ...)
        command = typer.main.get_group(obj)
        command.name = name
        command.help = command.help or help_text
        return command
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    holder.command(name, help=help_text)(obj)
    return typer.main.get_group(holder).commands[name]


class DsgymGroup(TyperGroup):
    """A typer group whose help texts are plain (no rich markup) and whose heavy commands load lazily."""

    _listing = False

    def list_commands(self, ctx: typer.Context) -> list[str]:
        names = super().list_commands(ctx)
        return names + [name for name in LAZY_COMMANDS if name not in names] if self.name == "dsgym" else names

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Optional[TyperCommand]:
        command = super().get_command(ctx, cmd_name)
        if command is None and self.name == "dsgym" and cmd_name in LAZY_COMMANDS:
            if self._listing:  # the command list of `dsgym --help`: name and one line, nothing imported
                return TyperCommand(cmd_name, help=LAZY_COMMANDS[cmd_name][1])
            command = self.commands[cmd_name] = _load_lazy(cmd_name)
        return _plain_help(command) if command is not None else None

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        _plain_help(self)
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _version(value: bool) -> None:
    if value:
        from dsgym import __version__

        typer.echo(f"dsgym {__version__}")
        raise typer.Exit()


app = typer.Typer(help="dsgym: a gym for data-science agents.", no_args_is_help=True,
                  pretty_exceptions_enable=False, cls=DsgymGroup, name="dsgym")
sandbox_app = typer.Typer(help="Build, inspect and clean up sandboxes.", no_args_is_help=True, cls=DsgymGroup)
tasks_app = typer.Typer(help="Browse task suites.", no_args_is_help=True, cls=DsgymGroup)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(tasks_app, name="tasks")


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print dsgym's version and exit.")) -> None:
    """dsgym: a gym for data-science agents."""


console = Console()
err = Console(stderr=True)
TABLE_ROWS = 1000  # `tasks list` prints more tasks than this as plain lines


def fail(message: str, code: int = 2) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# -- sandbox ---------------------------------------------------------------------------------------


@sandbox_app.command("build")
def sandbox_build(
    image: Optional[list[str]] = typer.Option(None, "--image", help="Image(s) to build, e.g. default, bio, predict, "
                                              "official-analysis (default: all but predict and the official-* "
                                              "images, which are built when a suite first needs them)."),
    base_image: Optional[str] = typer.Option(None, help="Build FROM this image (e.g. python:3.11-slim) "
                                             "instead of making a base (registry, mmdebstrap, debootstrap)."),
    mirror: Optional[str] = typer.Option(None, help="Debian or Ubuntu archive URI for the base (default: from "
                                         "/etc/apt sources)."),
    debian_suite: Optional[str] = typer.Option(None, "--debian-suite", "--suite", help="Debian or Ubuntu release "
                                               "for the base, e.g. bookworm or noble (default: the host's)."),
    tag: Optional[str] = typer.Option(None, help="Image tag (default: dsgym-sandbox:<content hash>)."),
    force: bool = typer.Option(False, help="Rebuild even if the image exists."),
    kind: str = typer.Option("docker", "--kind", help="docker: the Docker images; bwrap: only the file trees the "
                             "bwrap sandbox binds as its root, built without Docker or root (mmdebstrap, user "
                             "namespaces; see the README's Sandbox kinds)."),
) -> None:
    """Build the sandbox images (reusing every cached step)."""
    from dsgym.sandbox import images

    if kind == "bwrap":
        if base_image or mirror or debian_suite or tag:
            fail("--kind bwrap builds from the host's apt sources and the image's own tag: drop --base-image, "
                 "--mirror, --debian-suite and --tag")
        from dsgym.sandbox import rootfs

        for name in image or images.default_build():
            try:
                built = rootfs.build_tree(name, force=force,
                                          log=lambda line: err.print(line, highlight=False, markup=False))
            except (images.ImageBuildError, OSError) as exc:
                fail(str(exc))
            console.print(str(built))
        return
    if kind != "docker":
        fail(f"--kind is docker or bwrap, not {kind!r}")

    source = None
    if mirror or debian_suite:
        try:
            host = images.debian_source() if not (mirror and debian_suite) else None
        except images.ImageBuildError as exc:
            fail(str(exc))
        source = images.AptSource(mirror or host.uri, debian_suite or host.suite,
                                  host.components if host else ("main",))
    names = image or images.default_build()
    if tag and len(names) > 1:
        fail("--tag needs exactly one --image")
    for name in names:
        try:
            built = images.build(name, base_image=base_image, source=source, tag=tag, force=force,
                                 log=lambda line: err.print(line, highlight=False, markup=False))
        except (images.ImageBuildError, OSError) as exc:
            fail(str(exc))
        except Exception as exc:  # docker errors carry their own explanation
            fail(f"{type(exc).__name__}: {exc}")
        console.print(built)


@sandbox_app.command("prune")
def sandbox_prune(all_: bool = typer.Option(False, "--all", help="Remove every dsgym container, also those "
                                            "of live processes and of other hosts sharing this daemon."),
                  outdated_: bool = typer.Option(False, "--outdated", help="Also remove the images and bwrap "
                                                 "file trees of older image definitions (each dsgym update that "
                                                 "changes an image leaves the previous one behind). Another dsgym "
                                                 "version's images on this daemon count as outdated too.")) -> None:
    """Remove dsgym containers left behind by processes of this host that are gone."""
    from dsgym.sandbox import docker as docker_sandbox
    from dsgym.sandbox import outdated
    from dsgym.sandbox.base import SandboxError

    client = None
    try:
        removed = docker_sandbox.prune(everything=all_)
        client = docker_sandbox.client()
    except SandboxError as exc:
        if not outdated_:
            fail(str(exc))
        err.print(f"no Docker daemon ({exc}): only file trees are swept", highlight=False, markup=False)
        removed = []
    console.print(f"removed {len(removed)} container(s)" + (f": {' '.join(removed)}" if removed else ""))
    if outdated_:
        swept = outdated.remove(client, outdated.outdated_images(client) if client else [],
                                outdated.outdated_trees())
        for line in [*swept.images, *swept.trees]:
            console.print(f"removed {line}", **PLAIN)
        for line in swept.kept:
            err.print(f"kept {line}", highlight=False, markup=False)
        console.print(f"removed {len(swept.images)} outdated image(s) and {len(swept.trees)} tree(s), "
                      f"about {swept.freed / 2**30:.1f} GiB")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Docker reachable? Image built? Containers running?"""
    from dsgym.sandbox import docker as docker_sandbox
    from dsgym.sandbox import images
    from dsgym.sandbox.base import SandboxError

    try:
        client = docker_sandbox.client()
    except SandboxError as exc:
        console.print(f"docker: [red]unreachable[/red] ({exc})")
        raise typer.Exit(1)
    version = client.version()
    console.print(f"docker: {version.get('Version')} (API {version.get('ApiVersion')})")
    built = True
    for name in images.image_names():
        tag = images.image_tag(name)
        present = images.image_exists(client, tag)
        if name in images.ON_DEMAND and not present:
            console.print(f"image {name}: {tag} not built (built when a suite first needs it, or by "
                          f"`dsgym sandbox build --image {name}`)", **PLAIN)
            continue
        built = built and present
        console.print(f"image {name}: {tag} " + ("[green]built[/green]" if present else
                                                 f"[red]missing: run `dsgym sandbox build --image {name}`[/red]"))
    containers = docker_sandbox.list_containers()
    console.print(f"containers: {len(containers)} labelled dsgym container(s)")
    now = time.time()
    for container in containers:
        labels = container.labels
        owner = labels.get("dsgym.owner", "?")
        if docker_sandbox.orphaned(container):
            owner += " (gone: `dsgym sandbox prune` removes it)"
        created = labels.get("dsgym.created", "")
        age = f"{now - float(created):.0f} s" if created.replace(".", "", 1).isdigit() else "?"
        renewed = docker_sandbox.lease_age(container)
        lease = (f"{labels['dsgym.lease']} s" if "dsgym.lease" in labels else "none") + (
            f", renewed {renewed:.0f} s ago" if renewed is not None else "")
        console.print(f"  {container.short_id} {container.status} owner={owner} age={age} lease={lease}",
                      **PLAIN)
    if not built:
        raise typer.Exit(1)


# -- tasks -----------------------------------------------------------------------------------------


@tasks_app.command("list")
def tasks_list(
    suite: Optional[str] = typer.Argument(None, help="A suite name; all suites if omitted."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per task per line."),
) -> None:
    """List suites, or the tasks of one suite (piped, or over 1,000 tasks: one tab-separated line each)."""
    import dsgym

    try:
        chosen = [dsgym.get_suite(suite)] if suite else list(dsgym.suites().values())
    except dsgym.UnknownEnvError as exc:
        fail(str(exc))
    write = sys.stdout.write
    if as_json:
        for s in chosen:
            for task in s.tasks.values():
                write(json.dumps({"id": task.id, "suite": task.suite, "question": task.question,
                                  "metric": task.metric, "data_files": task.data_files}) + "\n")
        return
    if not suite:
        from dsgym.fetching import unfetched

        table = Table("suite", "tasks", "version", "description")
        for s in chosen:
            table.add_row(s.name, str(len(s.tasks)), s.version, s.description)
        for name, hint in unfetched(set(dsgym.suites())).items():
            table.add_row(name, "-", "not fetched", hint)
    elif len(chosen[0].tasks) > TABLE_ROWS or not console.is_terminal:
        # a table measures every cell first (minutes for 100,000 rows) and cuts ids to fit: a pipe or a
        # file gets whole lines instead
        write("env id\tmetric\tquestion\n")
        for task in chosen[0].tasks.values():
            write(f"{task.env_id}\t{task.metric}\t{' '.join(task.question.split())}\n")
        return
    else:
        table = Table("env id", "metric", "question")
        for task in chosen[0].tasks.values():
            table.add_row(task.env_id, task.metric, task.question)
    _print_table(table)


@tasks_app.command("show")
def tasks_show(
    env_id: str = typer.Argument(..., help="<suite>/<task-id>"),
    answer: bool = typer.Option(False, "--answer", help="Also print the reference answer."),
    solution: bool = typer.Option(False, "--solution", help="Also print the reference solution."),
) -> None:
    """Show one task: the prompt fields, metric, data files (and, if asked, answer and solution)."""
    import dsgym

    try:
        _, task = dsgym.resolve(env_id)
    except dsgym.UnknownEnvError as exc:
        fail(str(exc))
    if task is None:
        fail(f"{env_id} is a suite; give <suite>/<task-id>")
    fields = {"id": task.env_id, "kind": task.kind, "metric": f"{task.metric} {task.metric_params or ''}",
              "context": task.context, "question": task.question, "guideline": task.guideline,
              "data": ", ".join(f"{n}{' (missing)' if n in task.missing_data() else ''}" for n in task.data_files),
              "metadata": json.dumps(task.metadata, ensure_ascii=False)}
    if answer:
        fields["answer"] = json.dumps(task.answer, ensure_ascii=False)
    for key, value in fields.items():
        console.print(f"[bold]{key}:[/bold] {escape(str(value))}", highlight=False)
    if solution:
        console.print("[bold]solution:[/bold]")
        console.print(task.solution or "(none)", markup=False, highlight=False)


@tasks_app.command("validate")
def tasks_validate(
    suites: Optional[list[str]] = typer.Argument(None, help="Suites to check (default: all)."),
    solutions: bool = typer.Option(False, "--solutions", help="Also replay every reference solution in a "
                                   "sandbox and check it reproduces the stored answer."),
    concurrency: int = typer.Option(2, "--concurrency", "-j", help="With --solutions: reference solutions "
                                    "replayed at once, each in its own sandbox."),
) -> None:
    """Check suites: load errors, missing data, metrics and their params, (replayed) solutions."""
    import dsgym
    from dsgym.validation import Problem, validate_suite

    try:
        chosen = [dsgym.get_suite(name) for name in suites] if suites else list(dsgym.suites().values())
    except dsgym.UnknownEnvError as exc:
        fail(str(exc))
    problems = [p for s in chosen for p in validate_suite(s, need_solutions=solutions)]
    if solutions:
        from dsgym import runner, shutdown
        from dsgym.agents import OracleAgent

        shutdown.install()
        shutdown.reap(lambda line: err.print(line, **PLAIN))
        jobs = [runner.Job(s.name, t.id) for s in chosen for t in s.tasks.values()
                if t.solution and not t.missing_data()]
        try:
            records = runner.run(jobs, OracleAgent, concurrency=concurrency)
        except KeyboardInterrupt as exc:
            err.print(f"{shutdown.cause(exc)}: nothing was changed; the sandboxes were removed", **PLAIN)
            raise typer.Exit(shutdown.exit_code(exc))
        for record in records:
            if record.status == "error":
                problems.append(Problem(record.suite, record.task_id, f"reference solution could not be "
                                        f"scored ({record.error_type} error: {record.error})"))
            elif "valid" in record.score_breakdown:  # a prediction task: any valid graded submission
                if not record.score_breakdown["valid"]:
                    problems.append(Problem(record.suite, record.task_id, "reference solution wrote an invalid "
                                            f"submission: {record.score_breakdown.get('message')}"))
            elif record.score != 1.0:
                problems.append(Problem(record.suite, record.task_id, f"reference solution scored "
                                        f"{record.score:.3f} ({record.score_breakdown})"))
    for problem in problems:
        console.print(str(problem), markup=False, highlight=False, soft_wrap=True)  # one line per problem, for grep
    counts = ", ".join(f"{s.name}: {len(s.tasks)} tasks" for s in chosen)
    console.print(f"{len(problems)} problem(s); {counts}", highlight=False)
    if problems:
        raise typer.Exit(1)


# -- episodes --------------------------------------------------------------------------------------


def _env_options(sandbox: Optional[str], max_turns: int, cell_timeout: float, episode_budget: float,
                 gpus: Optional[str] = None) -> dict:
    return {"sandbox": sandbox, "max_turns": max_turns, "cell_timeout": cell_timeout,
            "episode_budget": episode_budget, "gpus": gpus}


SandboxOpt = typer.Option(None, help="docker (default), bwrap (bubblewrap: no daemon or root needed) or local (NOT isolated); env DSGYM_SANDBOX.")
TurnsOpt = typer.Option(DEFAULTS.max_turns, help="Turns per episode.")
CellOpt = typer.Option(DEFAULTS.cell_timeout, help="Seconds one code cell may run before the kernel is interrupted.")
BudgetOpt = typer.Option(DEFAULTS.episode_budget, help="Wall-clock seconds for a whole episode.")
GpusOpt = typer.Option(None, "--gpus", help="GPUs for prediction tasks' sandboxes: all, or indexes/UUIDs like "
                       "0,1 (docker sandboxes, through Docker's device requests; needs the NVIDIA Container "
                       "Toolkit). Off by default.")


SCORING_HELP = ("Scoring profile: dsgym (dsgym's metrics; the default), official (the official release's graders, "
                "for numbers beside the paper's) or official-judge (official, with the release's equivalence judge "
                "for DAEval, QRData and DABStep; docs/scoring.md).")
ApiKeyOpt = typer.Option(None, "--api-key", help="API key of the model endpoint (default: env DSGYM_API_KEY or "
                         "OPENAI_API_KEY); given to the agent through DSGYM_API_KEY, never written to a run folder.")


def _redacted(argv: list[str]) -> list[str]:
    """The command line as recorded in a run folder: the value of --api-key replaced."""
    out, hide = [], False
    for arg in argv:
        out.append("***" if hide else "--api-key=***" if arg.startswith("--api-key=") else arg)
        hide = arg == "--api-key"
    return out


def _use_api_key(api_key: Optional[str]) -> None:
    """--api-key reaches the agent (and Ray workers) as DSGYM_API_KEY, so no settings file records it."""
    if api_key:
        os.environ["DSGYM_API_KEY"] = api_key


@app.command("run")
def run_one(
    env_id: str = typer.Argument(..., help="<suite>/<task-id>, or <suite> to draw a task with --seed."),
    agent: str = typer.Option("oracle", help="oracle, react, codeact, automl, or module:Class for your own agent."),
    model: Optional[str] = typer.Option(None, help="Model name, passed to the agent (react, codeact)."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, passed to the "
                                           "agent."),
    api_key: Optional[str] = ApiKeyOpt,
    seed: int = typer.Option(0, help="Seed of reset (picks the task when env_id is a suite)."),
    sandbox: Optional[str] = SandboxOpt,
    max_turns: int = TurnsOpt,
    cell_timeout: float = CellOpt,
    episode_budget: float = BudgetOpt,
    gpus: Optional[str] = GpusOpt,
    scoring: str = typer.Option("dsgym", "--scoring", help=SCORING_HELP),
) -> None:
    """Play one episode and print the transcript and score."""
    import dsgym
    from dsgym import shutdown
    from dsgym.agents import load_agent
    from dsgym.episode import play

    shutdown.install()
    _use_api_key(api_key)
    agent_kwargs = {k: v for k, v in {"model": model, "base_url": base_url}.items() if v is not None}
    try:
        player = load_agent(agent, **agent_kwargs)
    except TypeError as exc:
        fail(f"agent {agent!r} does not accept {', '.join('--' + k.replace('_', '-') for k in agent_kwargs)} "
             f"({exc})")
    except (ValueError, ImportError, AttributeError) as exc:
        fail(str(exc))
    try:
        env = dsgym.make(env_id, **_env_options(sandbox, max_turns, cell_timeout, episode_budget, gpus),
                         scoring=scoring)
    except (dsgym.UnknownEnvError, ValueError) as exc:
        fail(str(exc))
    if (sandbox or os.environ.get("DSGYM_SANDBOX") or "docker") == "docker":
        _build_on_demand(dsgym.get_suite(env_id.split("/")[0]).image)
    shutdown.reap(lambda line: err.print(line, **PLAIN), sandbox)
    try:
        record = play(env, player, seed=seed)
    except KeyboardInterrupt as exc:
        err.print(f"{shutdown.cause(exc)}: the episode was abandoned and its sandbox removed", **PLAIN)
        raise typer.Exit(shutdown.exit_code(exc))
    finally:
        env.close()
    if record.error and not record.turns:  # it never started (no daemon, no image): the error alone, once
        fail(f"{record.error_type} error: {record.error}")
    console.print(record.transcript(), highlight=False, markup=False)  # ends with the error, if any
    if record.error:
        raise typer.Exit(2)


PLAIN = {"highlight": False, "markup": False, "soft_wrap": True}  # plain text, never wrapped


def _build_on_demand(name: str) -> None:
    """An image built on a suite's first need (predict), saying so; the others fail at start as before."""
    from dsgym.sandbox.images import ImageBuildError, build_on_demand, image_tag

    try:
        build_on_demand({name: image_tag(name)}, lambda line: err.print(line, **PLAIN))
    except ImageBuildError as exc:
        fail(str(exc))


def _print_table(table: Table) -> None:
    """Tables at full width: a pipe or a file gets 160 columns instead of rich's default 80."""
    (console if console.is_terminal else Console(width=160, highlight=False)).print(table)


def _eval_settings(targets: Optional[list[str]], out: Optional[Path], *, agent: Optional[str],
                   samples: Optional[int], episode_timeout: Optional[float], agent_kwargs: dict,
                   env_given: dict, variants: Optional[int] = None):
    """The settings of an eval: from the command line, or (no targets) those recorded in ``out``.

    With targets, every unset option takes its default, so rerunning a command with an
    option changed is a different run.  Without targets, unset options keep the run's own.
    """
    from dsgym import runner

    if targets:
        env_options = {"sandbox": os.environ.get("DSGYM_SANDBOX") or "docker", "max_turns": DEFAULTS.max_turns,
                       "cell_timeout": DEFAULTS.cell_timeout, "episode_budget": DEFAULTS.episode_budget,
                       "image": DEFAULTS.image, **env_given}
        return runner.EvalSettings(
            targets=list(targets), agent=agent or "oracle", agent_kwargs=agent_kwargs, samples=samples or 1,
            env_options=env_options, variants=variants or 0,
            episode_timeout=episode_timeout or hard_deadline(float(env_options["episode_budget"])))
    if out is None:
        fail("give suites or env ids to evaluate, or --out of a run to resume")
    try:
        manifest = runner.read_manifest(out)
    except runner.RunDirError as exc:
        fail(str(exc))
    if manifest is None:
        fail(f"{out} holds no run to resume; give suites or env ids to evaluate")
    settings = runner.EvalSettings.from_dict(manifest["settings"])
    settings.agent = agent or settings.agent
    settings.agent_kwargs = {**settings.agent_kwargs, **agent_kwargs}
    settings.samples = samples or settings.samples
    settings.variants = settings.variants if variants is None else variants
    settings.env_options = {**settings.env_options, **env_given}
    settings.episode_timeout = episode_timeout or settings.episode_timeout
    return settings


def _ray_backend(backend: str, address: Optional[str], cpus: float):
    """The Ray backend the options ask for (None: the local one)."""
    if backend not in ("local", "ray"):
        fail(f"--backend must be local or ray, not {backend!r}")
    if backend == "local":
        if address:
            fail("--address needs --backend ray")
        return None
    from dsgym.ray_backend import RayBackend

    if cpus <= 0:
        fail("--ray-cpus must be positive")
    return RayBackend(address=address, num_cpus=cpus)


def _check_outside_world(settings, jobs, agent, ray=None) -> None:
    """Before any episode: the Docker daemon, the sandbox images (on every Ray node) and the model endpoint."""
    from dsgym import preflight, registry
    from dsgym.sandbox.images import image_tag

    given = settings.env_options.get("image")
    tags = {None: given} if given else {
        name: image_tag(name) for name in {registry.get_suite(job.suite).image for job in jobs}}
    client = getattr(agent, "client", None)
    try:
        preflight.check(tags, sandbox=settings.env_options.get("sandbox", "docker"), ray=ray,
                        client=client if hasattr(client, "check_reachable") else None,
                        gpus=settings.env_options.get("gpus"))
    except preflight.PreflightError as exc:
        fail(str(exc))


def _agent_config(agent) -> dict:
    try:
        return dict(agent.config())
    except Exception as exc:  # noqa: BLE001 - a broken config() is the agent's problem, not the run's
        return {"agent": agent.name, "config_error": f"{type(exc).__name__}: {exc}"}


def _episode_table(records: list[dict], agent: str) -> Table:
    table = Table("episode", "score", "turns", "time (s)", "end", title=f"{agent} episodes")
    for r in records:
        errored = r.get("status") == "error"
        end = f"{r.get('error_type')} error: {r.get('error')}" if errored else r.get("termination")
        score = "-" if r.get("score") is None else f"{r['score']:.3f}"
        table.add_row(f"{r['env_id']}#{r.get('sample', 0)}", score, str(len(r.get("turns", []))),
                      f"{r.get('wall_time', 0):.1f}", escape(str(end or ""))[:200])
    return table


def _note_scoring(profile: str, jobs) -> None:
    """Say before any episode which tasks a profile grades with a judge model, or not with an official grader."""
    from dsgym.grading import metric_used

    if profile == "dsgym":
        return
    choices = [metric_used(task, profile) for task in {(j.suite, j.task_id): j.task for j in jobs}.values()]
    judged = sum(c.judged for c in choices)
    if judged and not os.environ.get("DSGYM_JUDGE_MODEL"):
        err.print(f"note: under --scoring {profile}, {judged} task(s) are graded by a judge model and "
                  "DSGYM_JUDGE_MODEL is not set: they will be scoring errors until `dsgym rescore --judge`",
                  style="yellow", **PLAIN)
    if unofficial := [c for c in choices if not c.official]:
        err.print(f"note: {len(unofficial)} task(s) have no official grader and keep dsgym's metric "
                  f"({unofficial[0].note})", style="yellow", **PLAIN)


@app.command("eval")
def evaluate(
    targets: Optional[list[str]] = typer.Argument(None, help="Suites and/or <suite>/<task-id> ids. Omit them "
                                                  "to resume --out with the settings it was started with."),
    agent: Optional[str] = typer.Option(None, help="oracle (default), react, codeact, automl, or module:Class."),
    model: Optional[str] = typer.Option(None, help="Model name, passed to the agent."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint, passed to the agent."),
    api_key: Optional[str] = ApiKeyOpt,
    temperature: Optional[float] = typer.Option(None, help="Sampling temperature, passed to the agent."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", help="Completion tokens per model call, "
                                             "passed to the agent."),
    variants: Optional[int] = typer.Option(None, "--variants", help="Also play K seeded variants of each task "
                                           "(data changed by the task's declared family, gold replayed; "
                                           "docs/variants.md); scores on variants are reported beside the "
                                           "originals' with their gap, a contamination indicator (default 0)."),
    samples: Optional[int] = typer.Option(None, "--samples", "-k", help="Episodes per task (default 1); "
                                          "pass@k uses k = samples."),
    concurrency: int = typer.Option(1, "--concurrency", "-j", help="Episodes at once, each in its own sandbox "
                                    "(with --backend ray: tasks in flight; 1 means what the cluster fits)."),
    backend: str = typer.Option("local", help="local (threads on this machine) or ray (one Ray task per "
                                "episode; pip install 'dsgym[ray]')."),
    address: Optional[str] = typer.Option(None, help="Ray cluster: auto, ray://host:10001, or none to start a "
                                          "local Ray on this machine."),
    ray_cpus: float = typer.Option(1.0, help="CPUs Ray reserves per episode (lower it for agents that mostly "
                                   "wait on a model)."),
    cpus: Optional[float] = typer.Option(None, "--cpus", help="CPUs each sandbox may use (a hard cap; default: "
                                         "what the suite declares, 1, at most the host's cores)."),
    overcommit: bool = typer.Option(False, "--overcommit", help="Run CPU-heavy episodes (bio, predict) "
                                    "--concurrency at once even beyond the host's cores."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder for episodes.jsonl and "
                                       "manifest.json (default: runs/<agent>-<time>). Rerun into it to resume."),
    sandbox: Optional[str] = typer.Option(None, help="docker (default), bwrap (bubblewrap: no daemon or root needed) or local (NOT isolated); env DSGYM_SANDBOX."),
    max_turns: Optional[int] = typer.Option(None, help=f"Turns per episode (default {DEFAULTS.max_turns})."),
    cell_timeout: Optional[float] = typer.Option(None, help="Seconds one code cell may run "
                                                 f"(default {DEFAULTS.cell_timeout:g})."),
    episode_budget: Optional[float] = typer.Option(None, help="The env's wall-clock seconds per episode; the "
                                                   "episode is truncated and scored when spent "
                                                   f"(default {DEFAULTS.episode_budget:g})."),
    image: Optional[str] = typer.Option(None, help="Sandbox image tag to use instead of the suites' own."),
    gpus: Optional[str] = GpusOpt,
    scoring: Optional[str] = typer.Option(None, "--scoring", help=SCORING_HELP + " Recorded in the run: a resume "
                                          "keeps it, another profile is refused (rescore --scoring re-grades)."),
    episode_timeout: Optional[float] = typer.Option(None, help="Hard wall-clock seconds per episode, retries "
                                                    "included; past it the episode is an error of type timeout "
                                                    "(default: 2 x episode budget + 60)."),
    retries: int = typer.Option(2, help="Retries of an episode after a sandbox or model-endpoint failure."),
    retry_backoff: float = typer.Option(2.0, help="Seconds before the first retry; doubles each time."),
    max_errors: Optional[str] = typer.Option(None, help="Abort when more episodes than this errored: a count "
                                             "(5) or a fraction of the episodes (0.1 or 10%)."),
    retry_errors: bool = typer.Option(False, "--retry-errors", help="Rerun only the errored episodes of --out."),
    force: bool = typer.Option(False, "--force", help="Start over in --out even if it holds a run of other "
                           "settings (its files are moved to a replaced-<time> subfolder)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap confidence intervals."),
    pass_threshold: float = typer.Option(1.0, help="Score at which a sample counts as passed (pass@k)."),
    llm_cache: Optional[str] = typer.Option(None, "--llm-cache", help="Reuse and add to a cache of model replies "
                                            "shared across runs: a folder, or 'shared' for the user cache's "
                                            "(default: the run folder's own llm-cache/, so a new run never "
                                            "replays another's replies; env DSGYM_LLM_CACHE_DIR)."),
) -> None:
    """Play every (task, sample) episode, N at a time; write runs/<name>/episodes.jsonl; print a summary.

    Rerunning the same command resumes: finished episodes are skipped. Exit status:
    0 all scored, 1 some episodes errored, 2 bad arguments or the Docker daemon, an image or the
    model endpoint is not there, 3 aborted by --max-errors, 4 the disk is full, 130 interrupted.
    """
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    import dsgym
    from dsgym import report, runner, shutdown
    from dsgym.agents import UnknownAgentError, load_agent
    from dsgym.episode import EpisodeRecord

    shutdown.install()
    _use_api_key(api_key)
    try:
        limit = runner.parse_max_errors(max_errors)
    except ValueError as exc:
        fail(str(exc))
    if concurrency < 1 or retries < 0 or (samples is not None and samples < 1):
        fail("--concurrency and --samples must be at least 1, --retries at least 0")
    agent_kwargs = {"model": model, "base_url": base_url, "temperature": temperature, "max_tokens": max_tokens}
    env_given = {"sandbox": sandbox, "max_turns": max_turns, "cell_timeout": cell_timeout,
                 "episode_budget": episode_budget, "image": image, "gpus": gpus, "scoring": scoring}
    if variants is not None and variants < 0:
        fail("--variants must be at least 0")
    settings = _eval_settings(targets, out, agent=agent, samples=samples, episode_timeout=episode_timeout,
                              variants=variants,
                              agent_kwargs={k: v for k, v in agent_kwargs.items() if v is not None},
                              env_given={k: v for k, v in env_given.items() if v is not None})
    try:
        settings.env()
        jobs = runner.expand(settings.targets, settings.samples, settings.variants)
    except (dsgym.UnknownEnvError, ValueError) as exc:
        fail(str(exc))
    _note_scoring(settings.scoring, jobs)
    try:
        probe = load_agent(settings.agent, **settings.agent_kwargs)
    except TypeError as exc:
        flags = ", ".join("--" + key.replace("_", "-") for key in settings.agent_kwargs) or "no options"
        fail(f"agent {settings.agent!r} does not accept {flags} ({exc})")
    except (ValueError, ImportError, AttributeError) as exc:  # UnknownAgentError names the agent itself
        fail(str(exc) if isinstance(exc, UnknownAgentError) else f"cannot load agent {settings.agent!r}: {exc}")
    if out is None:
        label = "-".join(part for part in (settings.agent, settings.agent_kwargs.get("model")) if part)
        out = Path("runs") / (re.sub(r"[^A-Za-z0-9_.-]+", "_", label) + time.strftime("-%Y%m%d-%H%M%S"))
    ray = _ray_backend(backend, address, ray_cpus)
    _check_outside_world(settings, jobs, probe, ray)
    shutdown.reap(lambda line: err.print(line, **PLAIN), settings.env_options.get("sandbox"))
    err.print(f"run folder: {out}  ({len(jobs)} episodes: {len(jobs) // settings.samples} task(s) x "
              f"{settings.samples} sample(s); agent {probe.name})", **PLAIN)

    state = {"done": 0, "failed": 0, "scores": []}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("failed {task.fields[failed]}"), TextColumn("score {task.fields[score]}"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    progress = Progress(*columns, console=err, transient=True)
    bar = progress.add_task("episodes", total=0, failed=0, score="-")

    def planned(outcome, todo) -> None:
        for note in outcome.notes:
            err.print(f"note: {note}", style="yellow", **PLAIN)
        if outcome.torn_bytes:
            err.print(f"warning: {out / runner.EPISODES} ended in a torn line ({outcome.torn_bytes} bytes, an "
                      "interrupted write); it was cut off and that episode runs again", style="yellow", **PLAIN)
        if outcome.bad_lines:
            err.print(f"warning: unreadable line(s) {outcome.bad_lines[:10]} in {out / runner.EPISODES} ignored",
                      style="yellow", **PLAIN)
        for warning in outcome.warnings:
            err.print(f"warning: {warning}", style="yellow", **PLAIN)
        if outcome.skipped:
            err.print(f"skipping {outcome.skipped} episode(s) already recorded"
                      + ("" if retry_errors else " (--retry-errors reruns errored ones)"), **PLAIN)
        progress.update(bar, total=len(todo))

    def finished(record: EpisodeRecord) -> None:
        state["done"] += 1
        if record.status == "error":
            state["failed"] += 1
            progress.console.print(f"error ({record.error_type}) {record.key}: {record.error}"[:400],
                                   style="red", **PLAIN)
        else:
            state["scores"].append(record.score)
        mean = sum(state["scores"]) / len(state["scores"]) if state["scores"] else None
        progress.update(bar, advance=1, failed=state["failed"], score=f"{mean:.3f}" if mean is not None else "-")

    status = 0
    outcome = None
    try:
        with progress:
            outcome = runner.evaluate(settings, out, concurrency=concurrency, retries=retries, backoff=retry_backoff,
                            max_errors=limit, retry_errors=retry_errors, force=force, command=_redacted(sys.argv),
                            agent_config=_agent_config(probe), on_plan=planned, on_result=finished,
                            backend=ray, llm_cache=llm_cache, cpus=cpus, overcommit=overcommit, seed=seed,
                            pass_threshold=pass_threshold)
    except (runner.RunDirError, ValueError) as exc:  # ValueError: a bad --cpus or suite resources
        fail(str(exc))
    except runner.RunAborted as exc:
        err.print(f"{exc}; the episodes so far are in {out}", style="red", **PLAIN)
        status = 3
    except KeyboardInterrupt as exc:  # also SIGTERM and SIGHUP (dsgym.shutdown)
        err.print(f"{shutdown.cause(exc)}: {state['done']} episode(s) of this session are recorded in {out}; "
                  "its containers were removed. Rerun the same command to resume.", **PLAIN)
        raise typer.Exit(shutdown.exit_code(exc))
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        fail(f"the disk holding {out} is full ({exc.strerror}); the {state['done']} episode(s) recorded "
             "before are kept. Free some space and rerun the same command to resume.", code=4)
    _, records, _ = runner.load_run(out)
    keys = {job.key for job in jobs}
    records = [r for r in records if f"{r.get('suite')}/{r.get('task_id')}#{r.get('sample', 0)}" in keys]
    if 0 < len(records) <= 30:
        _print_table(_episode_table(records, settings.agent))
    if report.prediction_stats(records):
        _print_table(report.prediction_table(records))
    summary = outcome.summary if outcome is not None else report.summarize(
        records, name=out.name, agent=settings.agent, model=settings.agent_kwargs.get("model"), k=settings.samples,
        seed=seed, pass_threshold=pass_threshold, scoring=settings.scoring)  # an abort: nothing returned
    _print_table(report.summary_table(summary))
    for line in report.summary_footer(summary):
        console.print(line, **PLAIN)
    missing = len(jobs) - len(records)
    if missing:
        console.print(f"{missing} episode(s) not played yet; rerun the same command to resume", **PLAIN)
    console.print(f"results: {out / runner.EPISODES}; summary: {out / runner.SUMMARY}", **PLAIN)
    if status:
        raise typer.Exit(status)
    if summary.errors:
        err.print(f"{summary.errors} episode(s) failed", style="red", **PLAIN)
        raise typer.Exit(1)


@app.command("rescore")
def rescore(
    runs: list[Path] = typer.Argument(..., help="Run folders (runs/<name>)."),
    judge: bool = typer.Option(False, "--judge", help="Also re-grade tasks graded by a judge model (llm_judge; "
                               "DiscoveryBench under --scoring official; DAEval, QRData, DABStep too under "
                               "official-judge): calls the judge model."),
    scoring: Optional[str] = typer.Option(None, "--scoring", help="Scoring profile to grade under: dsgym, "
                                          "official or official-judge (default: the run's own). Another profile "
                                          "than the run's "
                                          "writes a new run folder (--out, default <run>-<profile>); the run "
                                          "itself is not changed."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for the re-graded copy when --scoring "
                                       "differs from the run's profile (one run at a time)."),
    seed: int = typer.Option(0, help="Seed of the bootstrap confidence intervals."),
) -> None:
    """Re-grade stored answers with the current metrics: no agent, no model, no sandbox.

    Under the run's own profile episodes.jsonl is rewritten atomically and each re-graded
    record keeps its previous_score; under another profile a new run folder gets the re-graded copy.
    """
    from dsgym import report, runner, shutdown

    if out is not None and len(runs) > 1:
        fail("--out names one folder: rescore one run at a time with it")
    shutdown.install()
    for path in runs:
        try:
            result = runner.rescore(path, allow_judge=judge, scoring=scoring, out=out)
        except (runner.RunDirError, ValueError) as exc:  # ValueError: an unknown profile
            fail(str(exc))
        except KeyboardInterrupt as exc:  # the log is replaced atomically: it holds the old grades or the new
            err.print(f"{shutdown.cause(exc)}: {path} was left as it was; the runs before it are re-graded",
                      **PLAIN)
            raise typer.Exit(shutdown.exit_code(exc))
        skipped = "; ".join(f"{reason}: {count}" for reason, count in sorted(result.skipped.items()))
        where = path if result.out is None or result.out == path else f"{path} -> {result.out}"
        console.print(f"{where}: re-graded {result.regraded} answer(s), {result.changed} changed (scoring "
                      f"profile {result.scoring})" + (f"; skipped {skipped}" if skipped else ""), **PLAIN)
        if result.torn_bytes:
            err.print(f"warning: dropped a torn last line ({result.torn_bytes} bytes)", style="yellow", **PLAIN)
        path = result.out or path
        summary = report.summarize_run(path, seed=seed)
        runner.write_summary(path, summary)
        _print_table(report.summary_table(summary))
        for line in report.summary_footer(summary):
            console.print(line, **PLAIN)


@app.command("leaderboard")
def leaderboard(
    runs: list[Path] = typer.Argument(..., help="Run folders, e.g. runs/*"),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a self-contained HTML page here."),
    png: Optional[Path] = typer.Option(None, "--png", help="Also write a PNG bar chart with CIs here."),
    md: Optional[Path] = typer.Option(None, "--md", help="Also write the Markdown here."),
    metric: str = typer.Option("mean", help="mean (mean score) or pass1 (pass@1): the score column and chart."),
    seed: int = typer.Option(0, help="Seed of the bootstrap confidence intervals."),
    pass_threshold: float = typer.Option(1.0, help="Score at which a sample counts as passed."),
) -> None:
    """Render runs side by side: Markdown table (printed), HTML page, PNG chart."""
    from dsgym import leaderboard as board

    if metric not in board.METRICS:
        fail(f"--metric is one of {', '.join(board.METRICS)}")
    try:
        shown = board.load_runs(runs, metric, seed=seed, pass_threshold=pass_threshold)
    except board.MixedScoringError as exc:
        fail(str(exc))
    for skipped in shown.skipped:
        err.print(f"skipping {skipped}", style="yellow", **PLAIN)
    summaries = shown.summaries
    if not summaries:
        fail("no run folders to show")
    if shown.coverage:
        err.print(shown.coverage, style="bold yellow", **PLAIN)
    text = board.markdown(summaries, metric, shown.coverage)
    typer.echo(text)
    try:
        if md:
            md.write_text(text)
        if html:
            html.write_text(board.html_page(summaries, metric, coverage=shown.coverage))
        if png:
            board.png_chart(summaries, png, metric)
    except (OSError, RuntimeError) as exc:
        fail(str(exc))
    for path in (md, html, png):
        if path:
            err.print(f"wrote {path}", **PLAIN)


@app.command("view")
def view(
    sources: list[Path] = typer.Argument(..., help="Run folders and/or filter output folders."),
    out: Path = typer.Option(Path("dsgym-view"), "--out", help="Folder to write the site into (rebuilt if it "
                             "holds an earlier site)."),
    serve: bool = typer.Option(False, "--serve", help="Serve the site on 127.0.0.1 until Ctrl-C."),
    port: int = typer.Option(0, "--port", help="Port for --serve (0: any free port)."),
) -> None:
    """Write a static site of runs (summary, episodes, each turn) and filter reports; opens offline."""
    from dsgym.view import ViewError, build_site
    from dsgym.view.serve import make_server, url_of

    try:
        site = build_site(sources, out)
    except (ViewError, OSError) as exc:
        fail(str(exc))
    console.print(f"wrote {site.pages} page(s) to {site.root}; open {site.index.resolve().as_uri()}", **PLAIN)
    if not serve:
        return
    try:
        server = make_server(site.root, port)
    except OSError as exc:
        fail(f"cannot serve on 127.0.0.1:{port}: {exc}")
    from dsgym import shutdown

    shutdown.install()
    console.print(f"serving {url_of(server)} (Ctrl-C to stop)", **PLAIN)
    try:
        server.serve_forever()
    except KeyboardInterrupt as exc:  # also SIGTERM and SIGHUP
        err.print(f"{shutdown.cause(exc)}: stopped serving; the site stays in {site.root}", **PLAIN)
        raise typer.Exit(shutdown.exit_code(exc))
    finally:
        server.server_close()


if __name__ == "__main__":
    app()
