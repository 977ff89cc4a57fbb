"""How long a bwrap sandbox's file tree takes to build without Docker, with cold and with warm caches.

    python benchmarks/tree_build.py [--image default --image bio]

Each image's tree is built twice by ``dsgym sandbox build --kind bwrap --force`` into a throwaway
``DSGYM_ROOTFS_DIR``, with ``DOCKER_HOST`` naming a socket where no daemon listens:

* cold: a fresh ``DSGYM_CACHE_DIR`` and pip cache: the mmdebstrap base is made and every wheel downloaded;
* warm: the same cache again: the base tarball and the wheelhouse are reused (what a second
  build pays, and what CI pays when the user's cache is kept).

Run it as the user whose figures you want: an ordinary one builds with ``mmdebstrap --mode=unshare``
in a user namespace; root uses ``--mode=root`` and no namespace.  Prints one line per build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DSGYM = str(Path(sys.executable).with_name("dsgym"))


def build(image: str, cache: Path, trees: Path) -> float:
    env = {**os.environ, "DSGYM_CACHE_DIR": str(cache), "PIP_CACHE_DIR": str(cache / "pip"), "DSGYM_ROOTFS_DIR": str(trees),
           "DOCKER_HOST": f"unix://{trees}/no-docker.sock"}
    started = time.monotonic()
    done = subprocess.run([DSGYM, "sandbox", "build", "--kind", "bwrap", "--image", image, "--force"], env=env,
                          check=False, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"building the {image} tree failed:\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", action="append", help="image(s) to build (default: default and bio)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dsgym-tree-bench-"))
    try:
        for image in args.image or ["default", "bio"]:
            cache = work / f"cache-{image}"
            for state in ("cold", "warm"):
                seconds = build(image, cache, work / "trees")
                print(f"{image:8s} {state} caches: {seconds:6.1f} s", flush=True)
    finally:
        from dsgym.sandbox import treebuild

        treebuild.remove(work)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
