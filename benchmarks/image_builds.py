"""How long each sandbox image takes to build with warm wheel caches, and how big it is.

    python benchmarks/image_builds.py official-analysis official-bio official-kaggle

For each image: a full Docker build of it (``images.build(..., cache=False)``: no Docker layer reused,
as on a CI machine that has the wheelhouse and the base but not the image) under a throwaway tag,
which is removed afterwards; the wheelhouse, the base images and source-built wheels are reused (they
are cached on disk, and are built first if they are not).  Prints the seconds and the image's size.
The build's first stage (the venv before it is copied) is left as untagged images: `docker image
prune -f` removes them.
"""

from __future__ import annotations

import argparse
import time

import docker

from dsgym.sandbox import images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="images to build (default: all)")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the build's log")
    args = parser.parse_args()
    client = docker.from_env()
    rows = []
    for name in args.names or images.image_names():
        tag = f"dsgym-benchmark-{name}:nocache"
        start = time.perf_counter()
        images.build(name, tag=tag, force=False, cache=False, log=print if args.verbose else lambda line: None)
        seconds = time.perf_counter() - start
        size = client.images.get(tag).attrs["Size"]
        client.images.remove(tag)
        rows.append((name, seconds, size))
        print(f"{name}: built in {seconds:.0f} s, {size / 1e9:.2f} GB", flush=True)
    print(f"all {len(rows)}: {sum(seconds for _, seconds, _ in rows):.0f} s")


if __name__ == "__main__":
    main()
