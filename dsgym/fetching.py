"""The official suites, fetched on demand into a user cache, one suite at a time.

The official release is a Git repository whose ``data/`` folder holds every
suite's task file (``data/task/...``) and data (``data/data/<folder>/...``), about
370 MB in all.  ``fetch("dsbio")`` makes a shallow, blob-filtered, sparse clone of
it in the cache (``DSGYM_HOME``, else the platform's user cache folder, e.g.
``~/.cache/dsgym``) and checks out only that suite's task file, the data folders
its tasks name and, for DSPredict, the offline leaderboards.  The fetched suites,
the source and the commit are recorded in ``fetched.json`` beside the clone, and
only what that record lists is registered: a fetch that fails half-way leaves
nothing that loads, and the next one finishes it.  Fetching again is a no-op.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from dsgym.loaders.official import ANALYSIS_SUITES, FORMATS, UNION
from dsgym.task import Suite, Task, TaskFileError

OFFICIAL_URL = "https://github.com/fannie1208/DSGym.git"
LEADERBOARDS = "data/DSPredict_Offline_Leaderboard/"
ALL = "all"


class FetchError(RuntimeError):
    """A fetch that could not be done; the cache is as it was before it."""


class DiskFullError(FetchError):
    """The disk under the cache filled up during a fetch."""


@dataclass
class Fetched:
    """What a fetch did: the suites now in the cache and where they came from."""

    suites: list[str]
    source: str
    commit: str
    root: Path
    new: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def home() -> Path:
    """The user cache of dsgym: ``DSGYM_HOME``, else the platform's (``$XDG_CACHE_HOME/dsgym``, ``~/.cache/dsgym``)."""
    return Path(os.environ.get("DSGYM_HOME") or platformdirs.user_cache_dir("dsgym", appauthor=False))


def official_dir(base: str | os.PathLike[str] | None = None) -> Path:
    return Path(base) if base else home() / "official"


def source_url(source: str | None = None) -> str:
    """``--from``, else ``DSGYM_OFFICIAL_URL``, else the official repository; a plain path works as itself."""
    url = source or os.environ.get("DSGYM_OFFICIAL_URL") or OFFICIAL_URL
    if "://" not in url and Path(url).exists():
        url = Path(url).resolve().as_uri()  # file://: git honours --depth and --filter only for URLs
    return url


def offline() -> bool:
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes")
               for name in ("DSGYM_OFFLINE", "HF_HUB_OFFLINE"))


def official_names() -> list[str]:
    return [*FORMATS, UNION]


def expand(names: list[str]) -> list[str]:
    """Suite names as fetched: ``dsgym-tasks`` is the five analysis suites, ``all`` is every suite."""
    wanted: list[str] = []
    for name in names:
        if name == ALL:
            members = list(FORMATS)
        elif name == UNION:
            members = list(ANALYSIS_SUITES)
        elif name in FORMATS:
            members = [name]
        else:
            close = difflib.get_close_matches(name, [*official_names(), ALL], n=3, cutoff=0.5)
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise FetchError(f"{name!r} is not an official suite (official: {', '.join(official_names())}, "
                             f"or {ALL}){hint}")
        wanted += [member for member in members if member not in wanted]
    return wanted


# -- the record of what is fetched -----------------------------------------------------------------


def read_state(base: str | os.PathLike[str] | None = None) -> dict:
    """``fetched.json``: ``{"source", "commit", "suites": {name: {...}}}``; empty if nothing was fetched."""
    path = official_dir(base) / "fetched.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {"suites": {}}
    return state if isinstance(state, dict) and isinstance(state.get("suites"), dict) else {"suites": {}}


def _write_state(base: Path, state: dict) -> None:
    path = base / "fetched.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def release_root(base: str | os.PathLike[str] | None = None) -> Path:
    """The fetched release's ``data/`` folder (what ``DSGYM_DATA_DIR`` would name)."""
    return official_dir(base) / "release" / "data"


def fetched_suites(base: str | os.PathLike[str] | None = None) -> list[Suite]:
    """The suites a finished fetch recorded, loaded from the cache (plus ``dsgym-tasks`` when all five are)."""
    from dsgym.loaders.official import load_suite

    state = read_state(base)
    names = [name for name in state["suites"] if name in FORMATS]
    suites = []
    for name in names:
        try:
            suites.append(load_suite(name, release_root(base)))
        except TaskFileError as exc:
            suites.append(Suite(name=name, root=release_root(base), version="official", errors=[str(exc)]))
    if all(name in names for name in ANALYSIS_SUITES):
        suites.append(load_suite(UNION, release_root(base)))
    for suite in suites:  # the release commit they came from, as `dsgym tasks list` shows it
        suite.version = f"official@{state.get('commit', '')[:12]}"
    return suites


def unfetched(present: set[str]) -> dict[str, str]:
    """The official suites not registered here, each with the command that gets it."""
    return {name: f"official suite: dsgym fetch {name}" for name in official_names() if name not in present}


# -- fetching ------------------------------------------------------------------------------------


def fetch(*names: str, source: str | None = None, dest: str | os.PathLike[str] | None = None,
          progress: bool = True) -> Fetched:
    """Fetch official suites (``dsbio``, ``dsgym-tasks``, ``all``, ...) into the cache; a no-op for those there.

    Raises ``FetchError`` for an unknown name, a source that cannot be reached or is
    not a release, a corrupt task file, a full disk or a missing ``git``; the cache
    then holds what it held before.
    """
    wanted = expand(list(names) or [UNION])
    base = official_dir(dest)
    url = source_url(source)
    if shutil.which("git") is None:
        raise FetchError("git is not installed; install it (e.g. apt-get install git) and fetch again")
    fresh = not base.exists()
    base.mkdir(parents=True, exist_ok=True)
    try:
        return _fetch_locked(base, url, wanted, progress)
    except BaseException:
        if fresh and not read_state(base)["suites"]:
            shutil.rmtree(base, ignore_errors=True)  # a first fetch that failed leaves no trace
        raise


def _fetch_locked(base: Path, url: str, wanted: list[str], progress: bool) -> Fetched:
    with _locked(base):
        state = read_state(base)
        if state.get("source") and state["source"] != url and state["suites"]:
            raise FetchError(f"the cache at {base} holds suites from {state['source']}, not {url}; "
                             f"remove {base} to fetch from another source")
        new = [name for name in wanted if name not in state["suites"]]
        if not new:
            return Fetched(wanted, state.get("source", url), state.get("commit", ""), release_root(base))
        _say(progress, f"fetching {', '.join(new)} from {url} into {base}")
        repo = _clone(base, url, progress)
        before = _sparse_patterns(repo)
        try:
            _checkout(repo, [*before, *[f"/data/{FORMATS[name].task_file}" for name in new]])
            if not (repo / "data" / "task").is_dir():
                raise FetchError(f"{url} is not a DSGym release: it has no data/task folder")
            suites = {name: _load(name, repo) for name in new}
            data = sorted({pattern for name in new for pattern in _data_patterns(name, suites[name])})
            _checkout(repo, [*before, *[f"/data/{FORMATS[name].task_file}" for name in new], *data])
        except BaseException as exc:
            with contextlib.suppress(Exception):
                _checkout(repo, before)  # back to what was there: nothing half-fetched stays on disk
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise DiskFullError(f"the disk under {base} is full; free space and fetch again") from exc
            raise
        commit = _git(repo, "rev-parse", "HEAD").strip()
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for name in new:
            state["suites"][name] = {"fetched_at": now, "tasks": len(suites[name].tasks),
                                     "missing_data": _missing(suites[name])}
        state.update(source=url, commit=commit)
        _write_state(base, state)
    result = Fetched(wanted, url, commit, release_root(base), new=new)
    for name in new:
        if note := _data_note(name, suites[name], base):
            result.notes.append(note)
    return result


def _clone(base: Path, url: str, progress: bool) -> Path:
    """The sparse clone in ``base/release``, made if absent (in a temp folder first, then renamed)."""
    repo = base / "release"
    if (repo / ".git").is_dir() and _git_ok(repo, "rev-parse", "HEAD"):
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    tmp = base / "release.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _git(None, "clone", "--depth", "1", "--filter=blob:none", "--sparse", "--no-checkout",
             *(["--progress"] if progress and sys.stderr.isatty() else ["--quiet"]), url, str(tmp),
             what=f"could not fetch from {url}")
        _git(tmp, "sparse-checkout", "set", "--no-cone", "/data/task/.keep-none")
        _git(tmp, "checkout", "--quiet", what=f"could not check out from {url}")
        os.replace(tmp, repo)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return repo


def _sparse_patterns(repo: Path) -> list[str]:
    patterns = _git(repo, "sparse-checkout", "list").split()
    return [pattern for pattern in patterns if pattern != "/data/task/.keep-none"]


def _checkout(repo: Path, patterns: list[str]) -> None:
    """Make exactly ``patterns`` present (git fetches the blobs they need and drops the rest)."""
    unique = list(dict.fromkeys(patterns)) or ["/data/task/.keep-none"]
    _git(repo, "sparse-checkout", "set", "--no-cone", *unique, what="could not check out the suite's files")


def _load(name: str, repo: Path) -> Suite:
    fmt = FORMATS[name]
    path = repo / "data" / fmt.task_file
    if not path.is_file():
        raise FetchError(f"the source has no task file for {name} (looked for data/{fmt.task_file})")
    try:
        suite = fmt.load(repo / "data")
    except TaskFileError as exc:
        raise FetchError(f"the source's task file for {name} is corrupt: {exc}") from exc
    return suite


def _data_patterns(name: str, suite: Suite) -> set[str]:
    """The folders under ``data/`` the suite's tasks read (their first path part), and its side files."""
    fmt = FORMATS[name]
    folders: set[str] = set()
    for task in suite.tasks.values():
        for data_file in task.data_files:
            first = Path(data_file).parts[0] if Path(data_file).parts else ""
            if first and first not in (".", ".."):
                folders.add(f"/data/{fmt.data_subdir}/{first}/")
    if name.startswith("dspredict"):
        folders.add(f"/{LEADERBOARDS}")
    return folders


def _missing(suite: Suite) -> list[str]:
    return sorted(task.id for task in suite.tasks.values() if task.missing_data())


def _data_note(name: str, suite: Suite, base: Path) -> str | None:
    missing = _missing(suite)
    if not missing:
        return None
    if name.startswith("dspredict"):
        root = release_root(base) / FORMATS[name].data_subdir
        return (f"{name}: the release ships no competition data; {len(missing)} competition(s) need theirs "
                f"in {root}/<competition>/ (`kaggle competitions download -c <competition> -p "
                f"{root}/<competition>`, then unzip it there): {', '.join(missing)}")
    return f"{name}: {len(missing)} task(s) name data the release does not hold: {', '.join(missing[:5])}"


def missing_data_hint(task: Task) -> str:
    """What to do about a task whose data is absent: for a DSPredict competition, how to get it from Kaggle."""
    name = task.metadata.get("challenge_name")
    if task.kind != "prediction" or not name or not task.data_files:
        return ""
    target = task.data_root / task.data_files[0]
    return (f" The release ships no competition data (Kaggle's rules): download it with Kaggle credentials, "
            f"`kaggle competitions download -c {name} -p {target}`, and unzip it there.")


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"dsgym: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    """One fetch at a time per cache (two processes making the same env wait for each other)."""
    with open(base / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _git(repo: Path | None, *args: str, what: str = "git failed", ok_codes: tuple[int, ...] = (0,)) -> str:
    command = ["git", *(["-C", str(repo)] if repo else []), *args]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ADVICE": "0"}
    stderr = None if "--progress" in args else subprocess.PIPE
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, check=False)
    if done.returncode not in ok_codes:
        said = (done.stderr or "").strip().splitlines()
        if any("No space left on device" in line for line in said):
            raise OSError(errno.ENOSPC, "No space left on device")
        first = next((line for line in said if line.startswith(("fatal:", "error:"))), said[-1] if said else "")
        raise FetchError(f"{what} (git said: {first or f'exit {done.returncode}'})")
    return done.stdout


def _git_ok(repo: Path, *args: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False).returncode == 0
