"""Stage 4 filters that need no sandbox: near-duplicate questions and difficulty.

Near duplicates are found with TF-IDF over word 1-2-grams and cosine similarity
(scikit-learn), in blocks so memory stays bounded for tens of thousands of
questions; the first question of a near-duplicate pair is kept.  The difficulty
filter drops a task every rollout solved, verified and agreeing, in at most
``trivial_cells`` code cells: it teaches nothing multi-step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BLOCK = 2048


def near_duplicates(texts: list[str], threshold: float) -> dict[int, tuple[int, float]]:
    """index -> (index of the earlier question it repeats, similarity) for every similarity >= ``threshold``."""
    if len(texts) < 2:
        return {}
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError as exc:  # an extra: only synth's deduplication needs scikit-learn on the host
        raise ImportError("dsgym synth's deduplication needs scikit-learn: pip install 'dsgym[synth]'") from exc

    try:
        matrix = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True).fit_transform(texts)
    except ValueError:  # no word in any question: nothing to compare
        return {}
    duplicates: dict[int, tuple[int, float]] = {}
    for start in range(0, len(texts), BLOCK):
        block = (matrix[start:start + BLOCK] @ matrix[:start + BLOCK].T).toarray()
        for row, sims in enumerate(block):
            index = start + row
            earlier = sims[:index]
            kept = [j for j in np.flatnonzero(earlier >= threshold) if j not in duplicates]
            if kept:
                best = max(kept, key=lambda j: earlier[j])
                duplicates[index] = (int(best), round(float(earlier[best]), 4))
    return duplicates


def trivial(verdicts: list[dict[str, Any]], agreed: dict[str, Any], k: int, trivial_cells: int) -> bool:
    """Every one of the k rollouts is in the consensus and ran at most ``trivial_cells`` code cells."""
    samples = set(agreed.get("samples", []))
    return (len(samples) == k and len(verdicts) == k
            and all(v["sample"] in samples and v.get("cells", 0) <= trivial_cells for v in verdicts))
