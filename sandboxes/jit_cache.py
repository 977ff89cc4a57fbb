"""Give numba's on-disk cache the few hot library functions that do not ask for it.

Installed in the sandbox image's site-packages and imported at interpreter start (a
``.pth`` line), so every Python process in the sandbox, the build-time warm-up included,
sees the same functions cached.  umap-learn compiles ``smooth_knn_dist`` and
``compute_membership_strengths`` (what ``scanpy.pp.neighbors`` and ``umap.UMAP`` call)
without ``cache=True``; in a fresh sandbox those two cost about 12 s of CPU on every
first use.  Caching changes where the machine code comes from, never what it computes.

A meta-path finder waits for the listed modules and calls ``enable_caching()`` on the
listed dispatchers right after the module has run, before anything can call them.
Nothing is imported eagerly: a process that never imports umap pays nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

# module -> numba dispatchers (module-level, no closures) to compile with the disk cache
CACHED: dict[str, tuple[str, ...]] = {
    "umap.umap_": ("smooth_knn_dist", "compute_membership_strengths", "fast_knn_indices"),
}


class _CacheAfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in CACHED:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module):
            run_module(module)
            for attr in CACHED[name]:
                dispatcher = getattr(module, attr, None)
                if callable(getattr(dispatcher, "enable_caching", None)):
                    dispatcher.enable_caching()

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    if not any(isinstance(finder, _CacheAfterImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _CacheAfterImport())


install()
