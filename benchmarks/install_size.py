"""Size of ``pip install dsgym`` (no extras) in a fresh virtual environment.

    python benchmarks/install_size.py [SOURCE] [--extra NAME]

SOURCE is what pip installs (default: this checkout; a folder of another revision, e.g. from
``git archive``, compares).  Prints the packages installed, the size of site-packages in MiB
(bytes of its files, and ``du``'s blocks on disk; the empty venv's own pip and setuptools
included, and shown apart) and the ten largest.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=str(REPO))
    parser.add_argument("--extra", action="append", default=[], help="also install this extra")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsgym-size-") as tmp:
        venv.create(tmp, with_pip=True)
        python = Path(tmp) / "bin" / "python"
        site = next(Path(tmp).glob("lib/python3*/site-packages"))
        empty = size_mib(site)
        target = args.source + (f"[{','.join(args.extra)}]" if args.extra else "")
        subprocess.run([str(python), "-m", "pip", "install", "-q", target], check=True)
        listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True,
                                text=True, check=True).stdout.split()
        sizes = sorted(((size_mib(p), p.name) for p in site.iterdir() if p.is_dir()), reverse=True)
        total = size_mib(site)
        disk = int(subprocess.run(["du", "-sm", str(site)], capture_output=True, text=True,
                                  check=True).stdout.split()[0])
        print(f"pip install {target}")
        print(f"packages: {len(listed)}; site-packages: {total:.0f} MiB of files, {disk} MiB on disk (du) "
              f"(the empty venv's pip and setuptools: {empty:.0f} MiB of it)")
        for mib, name in sizes[:10]:
            print(f"  {mib:7.1f} MiB  {name}")


if __name__ == "__main__":
    sys.exit(main())
