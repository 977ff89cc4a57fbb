"""Run once while the sandbox image is built: fill the caches a fresh sandbox would otherwise fill
on first use, so the first call in every sandbox is as fast as the second.

* matplotlib's font list (``$MPLCONFIGDIR/fontlist-*.json``), built by its first import;
* numba's machine code for the jitted functions of scanpy, umap-learn and pynndescent that
  common single-cell work calls (``$NUMBA_CACHE_DIR``), compiled for float32 and float64,
  dense and sparse inputs, by running a generic workflow on the data sets inside the scanpy
  wheel and on random data (never a task's own solution).  Which steps run is per image (``IMAGE_STEPS``).

The build points both variables at ``/opt/dsgym/warm/`` and makes it read-only; at start the
sandbox's launcher mirrors it into the writable ``/tmp`` folders the variables name at run time
(``kernel_launcher.seed_caches``).  numba keys each entry by the source file's mtime and size
and by the CPU, so an entry is used only where it is valid; anything else compiles as before.

Steps whose packages are not in the image (the default image has no scanpy) are skipped.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import warnings
from collections.abc import Callable


STEPS: list[tuple[str, str, Callable[[], None]]] = []
# The steps (by the package they need) each image runs; another image runs every step it can.
# The predict image has scanpy too, but its work is tabular: the single-cell warm-up would
# only lengthen its build.
IMAGE_STEPS = {"default": {"matplotlib"}, "predict": {"matplotlib"},
               "bio": {"matplotlib", "scanpy", "pynndescent", "umap"}}


def step(name: str, needs: str):
    """Register a workflow, run by ``main`` when ``needs`` is importable."""

    def register(func: Callable[[], None]) -> Callable[[], None]:
        STEPS.append((name, needs, func))
        return func

    return register


def main(image: str) -> None:
    """Run the image's steps; a failed step is reported and skipped (a cold cache is slower, never wrong)."""
    wanted = IMAGE_STEPS.get(image)
    for name, needs, func in STEPS:
        if wanted is not None and needs not in wanted:
            print(f"warm {name}: not for the {image} image", flush=True)
            continue
        if importlib.util.find_spec(needs) is None:
            print(f"warm {name}: skipped ({needs} not installed)", flush=True)
            continue
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                func()
        except Exception as exc:  # noqa: BLE001 - never a reason to fail the image build
            print(f"warm {name}: FAILED after {time.perf_counter() - start:.1f} s: "
                  f"{type(exc).__name__}: {exc}".replace("\n", " "), flush=True)
            continue
        print(f"warm {name}: {time.perf_counter() - start:.1f} s", flush=True)


@step("matplotlib font cache", "matplotlib")
def matplotlib_fonts() -> None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="x")
    ax.set_title("warm")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png")
    plt.close(fig)


@step("scanpy single-cell workflow", "scanpy")
def scanpy_workflow() -> None:
    import anndata as ad
    import numpy as np
    import scanpy as sc
    from scipy import sparse

    pbmc = sc.datasets.pbmc68k_reduced()
    counts = np.rint(np.expm1(pbmc.raw.X.toarray())).astype(np.float32)
    for dtype in (np.float32, np.float64):
        for matrix in (sparse.csr_matrix(counts.astype(dtype)), counts.astype(dtype)):
            adata = ad.AnnData(matrix)
            adata.obs["group"] = pbmc.obs["bulk_labels"].to_numpy()
            adata.var_names = pbmc.raw.var_names
            adata.var["mt"] = adata.var_names.str.startswith("MT-")
            sc.pp.calculate_qc_metrics(adata, qc_vars=["mt"], percent_top=[50, 100], inplace=True)
            sc.pp.filter_cells(adata, min_genes=10)
            sc.pp.filter_genes(adata, min_cells=3)
            adata.layers["counts"] = adata.X.copy()
            if importlib.util.find_spec("skmisc") is not None:  # seurat_v3 needs scikit-misc
                sc.pp.highly_variable_genes(adata, flavor="seurat_v3", n_top_genes=300, layer="counts")
            sc.pp.normalize_total(adata, target_sum=1e4)
            sc.pp.log1p(adata)
            sc.pp.highly_variable_genes(adata, flavor="seurat", n_bins=20)
            sc.pp.highly_variable_genes(adata, flavor="cell_ranger", n_top_genes=300)
            for method in ("wilcoxon", "t-test", "t-test_overestim_var"):
                sc.tl.rank_genes_groups(adata, "group", method=method, use_raw=False)
            sc.tl.rank_genes_groups(adata, "group", method="wilcoxon", tie_correct=True, use_raw=False)
            sc.tl.score_genes(adata, list(adata.var_names[:20]), ctrl_size=50, use_raw=False)
            scaled = adata.copy()
            sc.pp.scale(scaled, max_value=10)
            sc.tl.pca(scaled, n_comps=30)
            sc.pp.scale(adata, zero_center=False)
            for rep, method in (("X_pca", "umap"), ("X_pca", "gauss"), ("X", "umap")):
                target = scaled if rep == "X_pca" else krumsiek(dtype)
                sc.pp.neighbors(target, n_neighbors=15, use_rep=rep, method=method, random_state=0)
                sc.tl.diffmap(target, n_comps=10)
                target.uns["iroot"] = 0
                sc.tl.dpt(target, n_dcs=5)
            sc.tl.leiden(scaled, flavor="igraph", n_iterations=2, directed=False, random_state=0)
            sc.tl.umap(scaled, random_state=0, maxiter=20)
            sc.tl.paga(scaled, groups="leiden")


def krumsiek(dtype):
    import anndata as ad
    import scanpy as sc

    data = sc.datasets.krumsiek11()
    return ad.AnnData(data.X.astype(dtype))


@step("pynndescent", "pynndescent")
def nearest_neighbours() -> None:
    # what scanpy and umap use on more than 4096 points (scanpy 1.11.5's own pynndescent path fails
    # on scipy 1.17's csr_array, so the index is built directly)
    import numpy as np
    from pynndescent import NNDescent

    data = np.random.default_rng(0).normal(size=(5000, 30))
    for dtype in (np.float32, np.float64):
        NNDescent(data.astype(dtype), n_neighbors=15, random_state=0).neighbor_graph


@step("umap-learn", "umap")
def umap_embedding() -> None:
    import numpy as np
    import umap

    data = np.random.default_rng(0).normal(size=(600, 12))
    for dtype in (np.float32, np.float64):
        umap.UMAP(n_neighbors=15, n_epochs=20, random_state=0).fit_transform(data.astype(dtype))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
