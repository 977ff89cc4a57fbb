"""Delete an image's bundled copies of the data sets its prediction tasks are graded on.

Run by the image build (Dockerfile) with the image's venv Python:
``withhold_data.py sandboxes/<name>/withheld-data.txt``.  Scikit-learn, statsmodels
and scanpy ship the full labelled data sets that tasks/dspredict-lite splits into
train and hidden test rows, so an agent in the sandbox could join its test rows back
to them and read every label.  The list names them per package:

    <import name> <glob relative to the package's folder>

``#`` starts a comment.  A glob ending in ``/`` names a data-set folder: every file in
it except Python sources goes (the loader modules stay, so ``import statsmodels.api``
still works and the loader fails with FileNotFoundError); any other match is deleted,
a folder with everything in it.  Packages are found with ``importlib.util.find_spec``,
so the paths follow the installed versions, and a line that matches nothing fails the
build: a release that moves its data must not leave a copy behind unnoticed.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path


def package_dir(name: str) -> Path:
    """The folder of installed top-level package ``name`` (found without importing it)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"withhold_data: package {name!r} is not installed in this image")
    return Path(next(iter(spec.submodule_search_locations)))


def data_files(folder: Path) -> list[Path]:
    """Every file under ``folder`` except Python sources and their bytecode."""
    return [p for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts]


def withhold(package: str, pattern: str) -> tuple[int, int]:
    """Delete what ``pattern`` matches in ``package``; return (files, bytes) removed."""
    root = package_dir(package)
    matches = sorted(root.glob(pattern.rstrip("/")))
    if pattern.endswith("/"):
        targets = [f for m in matches if m.is_dir() for f in data_files(m)]
    else:
        targets = matches
    if not targets:
        raise SystemExit(f"withhold_data: {package} {pattern} matches nothing under {root}; "
                         "did the package move its data? update the list")
    files = size = 0
    for target in targets:
        if not target.exists():  # inside a folder removed earlier on this line
            continue
        inner = [target] if target.is_file() else [p for p in target.rglob("*") if p.is_file()]
        files += len(inner)
        size += sum(p.stat().st_size for p in inner)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    return files, size


def main(listing: Path) -> None:
    total = 0
    for number, raw in enumerate(listing.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            package, pattern = line.split()
        except ValueError:
            raise SystemExit(f"withhold_data: {listing}:{number}: expected '<package> <glob>', got {raw!r}") from None
        files, size = withhold(package, pattern)
        total += files
        print(f"withheld {package} {pattern}: {files} files, {size} bytes", flush=True)
    print(f"withheld {total} files in all", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: withhold_data.py <withheld-data.txt>")
    main(Path(sys.argv[1]))
