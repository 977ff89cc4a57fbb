"""``dsgym serve``: dsgym environments for trainers elsewhere, under the OpenEnv contract.

    dsgym serve dsgym-tasks-lite              # 127.0.0.1:8000; prints the token it made
    DSGYM_SERVE_TOKEN=$(openssl rand -hex 16) dsgym serve dsgym-tasks-lite --host 0.0.0.0

A token is always required unless ``--no-token`` (loopback only): without one any
web page the user opens could drive the server.  Given none, a random one is made
and printed at start, as Jupyter does.

Exit status 2 for bad arguments: an unknown suite, ``--no-token`` off loopback, a
missing extra, no Docker daemon or image.
"""

from __future__ import annotations

import os
import signal
import secrets
from typing import Optional

import typer
from rich.console import Console

from dsgym.config import DEFAULTS

err = Console(stderr=True)


def serve_command(
    env_id: str = typer.Argument(..., help="A suite (a task per reset, or the one the client names) or "
                                           "<suite>/<task>."),
    host: str = typer.Option("127.0.0.1", help="Address to bind. Anything but loopback needs a token."),
    port: int = typer.Option(8000, help="TCP port."),
    token: Optional[str] = typer.Option(None, help="Bearer token clients must send (default "
                                                   "$DSGYM_SERVE_TOKEN, else a random one, printed).",
                                        show_default=False),
    no_token: bool = typer.Option(False, "--no-token", help="Serve without a token (loopback only; web "
                                                            "pages are still refused)."),
    max_sessions: int = typer.Option(8, help="Concurrent client sessions (each holds one sandbox)."),
    idle_timeout: float = typer.Option(600.0, help="Seconds without a message before a session and its "
                                                   "sandbox are reclaimed (a client that vanished)."),
    pool_size: int = typer.Option(2, help="Warm sandboxes kept started for resets (0: none)."),
    format_penalty: float = typer.Option(0.0, help="Subtracted from the reward of an episode that ends "
                                                   "without submit_answer."),
    max_turns: int = typer.Option(DEFAULTS.max_turns, help="Tool calls per episode."),
    cell_timeout: float = typer.Option(DEFAULTS.cell_timeout, help="Seconds one run_python may take."),
    episode_budget: float = typer.Option(DEFAULTS.episode_budget, help="Seconds per episode."),
    variant: Optional[str] = typer.Option(None, help="Play seeded task variants: 'fresh' (a new one at every "
                                          "reset) or a seed (docs/variants.md); default: the original tasks."),
) -> None:
    """Serve ENV_ID over OpenEnv's WebSocket protocol (clients: dsgym.rl.openenv_client.DSGymClient)."""
    from dsgym import shutdown
    from dsgym.preflight import PreflightError, check

    try:
        import uvicorn

        from dsgym.rl.openenv_server import TOKEN_ENV, create_server_app, is_loopback
    except ImportError as exc:
        fail(f"dsgym serve needs the OpenEnv extra: pip install 'dsgym[openenv]' ({exc})")
    given = token or os.environ.get(TOKEN_ENV) or None
    if no_token and not is_loopback(host):
        fail(f"refusing to serve on {host} without a token: anyone who can reach it could run code in "
             f"sandboxes. Drop --no-token (clients send the token as a bearer token).")
    if no_token and given:
        fail(f"--no-token and a token (--token or ${TOKEN_ENV}) contradict each other")
    token = None if no_token else given or secrets.token_urlsafe(24)
    import dsgym
    from dsgym.sandbox.images import image_tag

    try:
        suite, _ = dsgym.resolve(env_id)
        check({suite.image: image_tag(suite.image)}, sandbox=os.environ.get("DSGYM_SANDBOX", "docker"))
        app = create_server_app(env_id, token=token, host=host, max_sessions=max_sessions,
                                idle_timeout=idle_timeout, pool_size=pool_size, format_penalty=format_penalty, max_turns=max_turns,
                                cell_timeout=cell_timeout, episode_budget=episode_budget,
                                **({"variant": _variant(variant)} if variant is not None else {}))
    except (dsgym.UnknownEnvError, PreflightError, ValueError) as exc:
        fail(str(exc))
    shutdown.install()
    shutdown.reap(lambda line: err.print(line, highlight=False))
    err.print(f"serving {env_id} on ws://{host}:{port}/ws (up to {max_sessions} sessions, idle timeout "
              f"{idle_timeout:g} s)", highlight=False)
    if token is None:
        err.print("no token: any program on this machine can use the server (web pages are refused)",
                  highlight=False)
    elif given is None:
        err.print(f"token: {token}\n  clients pass it: DSGymClient(url, token=...) or {TOKEN_ENV}=...",
                  highlight=False, soft_wrap=True)
    else:
        err.print(f"token: the one given (--token or ${TOKEN_ENV})", highlight=False)
    # uvicorn shuts down gracefully on SIGINT and SIGTERM, raises them again, and swallows the
    # KeyboardInterrupt that dsgym.shutdown makes of them; SIGHUP is turned into its SIGTERM
    hangup: list[int] = []

    def on_hangup(signum, frame) -> None:
        hangup.append(signum)
        signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGHUP, on_hangup)
    uvicorn.run(app, host=host, port=port, log_level="warning", ws_ping_interval=20, ws_ping_timeout=20)
    stopped = shutdown.Terminated(hangup[0]) if hangup else shutdown.received()
    if stopped is not None:
        shutdown.remove_sandboxes()  # the sessions' sandboxes, also if the app's shutdown did not run
        err.print(f"{shutdown.cause(stopped)}: stopped serving; the sessions' sandboxes were removed",
                  highlight=False)
        raise typer.Exit(shutdown.exit_code(stopped))


def fail(message: str) -> None:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(2)


def _variant(text: str) -> str | int:
    """``--variant``: 'fresh' or a seed."""
    if text == "fresh":
        return text
    try:
        return int(text)
    except ValueError:
        fail(f"--variant takes 'fresh' or an integer seed, not {text!r}")
        raise
