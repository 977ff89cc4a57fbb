"""A prediction task's AnnData train/test split re-drawn, inside the suite's image (the host has no ``anndata``).

This module's source is sent to a sandbox and run there, so it imports nothing from dsgym.
``redraw`` reads ``train.h5ad`` (labelled: ``obs[target]``) and ``test.h5ad`` (unlabelled; its
labels are passed in), draws a new test set of the same size, stratified on the label
(proportional quotas, largest remainders, as ``dsgym.variants._draw_test``), and writes both
files in the originals' layout: the same ``obs`` columns (the label only in train), ``var``,
``X`` and ``raw``.
"""

import os

import numpy as np


def _stratified(labels, size, rng):
    groups = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    names = sorted(groups)
    quota = np.array([len(groups[g]) * size / len(labels) for g in names])
    take = np.floor(quota).astype(int)
    for k in np.argsort(-(quota - take), kind="stable")[: size - int(take.sum())]:
        take[k] += 1
    picked = [np.array(groups[g])[rng.choice(len(groups[g]), size=t, replace=False)] for g, t in zip(names, take)]
    return rng.permutation(np.concatenate(picked))


def redraw(folder, target, test_labels, seed, outdir):
    """Write the re-drawn ``train.h5ad`` and ``test.h5ad`` to ``outdir``; the new test ids and their labels."""
    import warnings

    import anndata as ad
    import pandas as pd
    import scipy.sparse as sp

    warnings.simplefilter("ignore")
    train = ad.read_h5ad(os.path.join(folder, "train.h5ad"))
    test = ad.read_h5ad(os.path.join(folder, "test.h5ad"))
    missing = [i for i in test.obs_names if i not in test_labels]
    if missing:
        raise ValueError(f"{len(missing)} test cells have no hidden label, e.g. {missing[0]}")
    labels = np.concatenate([train.obs[target].astype(str).to_numpy(),
                             np.array([test_labels[i] for i in test.obs_names], dtype=object)])
    stack = sp.vstack if sp.issparse(train.X) else np.vstack
    x = stack([train.X, test.X])
    raw_stack = sp.vstack if sp.issparse(train.raw.X) else np.vstack
    raw = raw_stack([train.raw.X, test.raw.X]) if train.raw is not None else None
    columns = [c for c in train.obs.columns if c != target]
    obs = pd.concat([train.obs[columns], test.obs[columns]])
    for name in columns:  # categories as the originals had them
        if isinstance(train.obs[name].dtype, pd.CategoricalDtype):
            obs[name] = pd.Categorical(obs[name].astype(str), categories=train.obs[name].cat.categories)
    rng = np.random.default_rng(seed)
    test_idx = _stratified(labels, test.n_obs, rng)
    chosen = set(test_idx.tolist())
    train_idx = np.array([i for i in rng.permutation(len(labels)) if i not in chosen])

    def part(idx, with_label):
        part_obs = obs.iloc[idx].copy()
        if with_label:
            part_obs[target] = pd.Categorical(labels[idx], categories=train.obs[target].cat.categories)
        out = ad.AnnData(X=x[idx], obs=part_obs, var=train.var.copy())
        if raw is not None:
            out.raw = ad.AnnData(X=raw[idx], obs=pd.DataFrame(index=part_obs.index), var=train.raw.var.copy())
        return out

    os.makedirs(outdir, exist_ok=True)
    paths = {}
    for name, idx, with_label in (("train.h5ad", train_idx, True), ("test.h5ad", test_idx, False)):
        paths[name] = os.path.join(outdir, name)
        part(idx, with_label).write_h5ad(paths[name], compression="gzip")
    return {"paths": paths, "ids": [str(obs.index[i]) for i in test_idx],
            "labels": [str(labels[i]) for i in test_idx], "train": int(len(train_idx))}
