"""Before any work: the Docker daemon, the sandbox images (on every Ray node) and the model endpoint.

``dsgym eval`` and ``dsgym synth`` both call ``check`` so that a missing piece of the
outside world stops them at once with what to do, instead of failing every episode.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from dsgym.llm import LLMError
from dsgym.sandbox.base import SandboxError
from dsgym.sandbox.gpus import GpuError
from dsgym.sandbox.gpus import require as require_gpus

if TYPE_CHECKING:
    from dsgym.llm import LLMClient
    from dsgym.ray_backend import RayBackend


class PreflightError(RuntimeError):
    """Something outside dsgym is missing; the message says what and how to fix it."""


def check(images: dict[str | None, str], *, sandbox: str, ray: RayBackend | None = None,
          client: LLMClient | None = None, gpus: str | None = None) -> None:
    """``images`` maps image names (None for a tag given by hand) to tags; the docker sandbox needs the images,
    the bwrap sandbox their file trees (made here when missing: ``rootfs.tree``, which first builds a missing
    on-demand image where Docker answers).

    A missing on-demand image (``predict``) is built here, with a message, instead of failing.  ``gpus``
    (``--gpus``) needs the docker kind and, run here, GPUs on this host (Ray's nodes are checked by Ray).
    """
    if gpus is not None:
        if sandbox != "docker":
            raise PreflightError(f"--gpus needs the docker sandbox kind (Docker's device requests), not {sandbox}")
        if ray is None:
            try:
                require_gpus(gpus)
            except GpuError as exc:
                raise PreflightError(str(exc)) from exc
    try:
        if sandbox == "docker":
            if ray is None:
                from dsgym.sandbox.docker import require_images
                from dsgym.sandbox.images import ImageBuildError, build_on_demand

                try:
                    build_on_demand(images, lambda line: print(line, file=sys.stderr, flush=True))
                except ImageBuildError as exc:
                    raise PreflightError(f"building a sandbox image failed: {exc}") from exc
                require_images(images)
            else:
                from dsgym.ray_backend import check_nodes

                check_nodes(ray, images)
        elif sandbox == "bwrap" and ray is None:
            from dsgym.sandbox import rootfs

            for tag in images.values():  # made now (exported, or built without Docker), not in a first reset
                rootfs.tree(tag)
        if client is not None:
            client.check_reachable()
    except (SandboxError, LLMError, RuntimeError) as exc:
        raise PreflightError(str(exc)) from exc
