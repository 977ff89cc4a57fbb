"""What PyPI's torch (the CUDA build) would add to a sandbox image, against the CPU build the images use.

    python benchmarks/torch_wheel_size.py            # the torch pin of sandboxes/official-analysis

Downloads, into a temporary folder, the wheels ``pip`` picks for the image's Python (CPython 3.11,
manylinux x86_64): ``torch==X`` with its dependencies from the package index alone (``--isolated``:
no local wheel folders or mirrors, so it is the plain index's CUDA build), and ``torch==X+cpu``
without dependencies from pip's configured sources.  Prints each wheel's download and unpacked
size (what ``pip install`` writes) and the difference.  Several GB are downloaded; nothing is kept.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from dsgym.sandbox import images

TARGET = images.PythonTarget("3.11", (2, 36), "x86_64")  # the bookworm base's Python, glibc and machine


def download(dest: Path, args: list[str]) -> list[Path]:
    run = subprocess.run(images._binary_download(TARGET, dest, args), capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"pip download failed:\n{run.stderr[-3000:]}")
    return sorted(dest.glob("*.whl"))


def sizes(wheel: Path) -> tuple[int, int]:
    with zipfile.ZipFile(wheel) as archive:
        return wheel.stat().st_size, sum(info.file_size for info in archive.infolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    requirements = images.resources.files("dsgym.sandboxes") / "official-analysis" / "requirements.txt"
    pinned = re.search(r"^torch==([\w.]+)\+cpu", requirements.read_text(), re.MULTILINE)
    parser.add_argument("--version", default=pinned.group(1) if pinned else None, help="torch release")
    version = parser.parse_args().version
    with tempfile.TemporaryDirectory() as tmp:
        cuda, cpu = Path(tmp) / "cuda", Path(tmp) / "cpu"
        # --isolated drops pip's configuration: keep its certificate bundle, if it names one
        cert = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.cert"],
                              capture_output=True, text=True).stdout.strip()
        cuda_wheels = download(cuda, ["--isolated", *(["--cert", cert] if cert else []), f"torch=={version}"])
        cpu_wheels = download(cpu, ["--no-deps", f"torch=={version}+cpu"])
        total = [0, 0]
        for wheel in cuda_wheels:
            wheel_size, unpacked = sizes(wheel)
            total[0] += wheel_size
            total[1] += unpacked
            print(f"{wheel.name[:70]:70} {wheel_size / 1e6:7.0f} MB {unpacked / 1e6:7.0f} MB unpacked")
        print(f"torch {version} from the index, with its dependencies: {total[0] / 1e9:.2f} GB of wheels, "
              f"{total[1] / 1e9:.2f} GB unpacked ({len(cuda_wheels)} wheels)")
        cpu_size, cpu_unpacked = sizes(cpu_wheels[0])
        print(f"torch {version}+cpu: {cpu_size / 1e9:.2f} GB wheel, {cpu_unpacked / 1e9:.2f} GB unpacked "
              "(its other dependencies are the same small pure-Python ones)")
        print(f"the CUDA build adds {(total[1] - cpu_unpacked) / 1e9:.2f} GB unpacked to an image")


if __name__ == "__main__":
    main()
