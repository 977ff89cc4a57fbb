"""A small prediction suite written to a temp folder: data, hidden labels and a leaderboard."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd


def write_prediction_suite(root: Path, name: str = "predict-test") -> dict:
    """Binary classification of ``y = x1 + x2 > 0``; returns the suite's facts for assertions.

    The hidden labels carry a unique marker (an extra column the grader ignores) so
    a test can prove they never enter the sandbox.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    ids = [f"r{i:03d}" for i in range(200)]
    frame = pd.DataFrame({"id": ids, "x1": x[:, 0].round(4), "x2": x[:, 1].round(4), "y": y})
    train, test = frame.iloc[:150], frame.iloc[150:]
    data = root / "data" / "toy"
    data.mkdir(parents=True)
    train.to_csv(data / "train.csv", index=False)
    test[["id", "x1", "x2"]].to_csv(data / "test.csv", index=False)
    test[["id"]].assign(y=0).to_csv(data / "sample_submission.csv", index=False)
    marker = f"hidden-{uuid.uuid4().hex}"
    (root / "hidden").mkdir()
    labels = test[["id", "y"]].assign(note=marker)
    labels.to_csv(root / "hidden" / "toy.csv", index=False)
    scores = [1.0, 0.98, 0.96, 0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.5]  # accuracy, best first
    (root / "leaderboard_stats.json").write_text(json.dumps({"toy": {
        "public_scores": scores, "private_scores": [], "total_submissions": len(scores)}}))
    prediction = {"id_column": "id", "target_columns": ["y"], "sample_submission": "toy/sample_submission.csv",
                  "labels_file": "hidden/toy.csv", "leaderboard_file": "leaderboard_stats.json"}
    solution = ("import pandas as pd\n"
                "t = pd.read_csv('/data/toy/test.csv')\n"
                "t.assign(y=(t.x1 + t.x2 > 0).astype(int))[['id', 'y']].to_csv('/workspace/submission.csv', index=False)\n"
                "answer = 'submitted'\n")
    manifest = {"suite": name, "version": "1", "data_dir": "data", "tasks": [
        {"id": "toy", "kind": "prediction", "question": "Predict y for test.csv.", "data_files": ["toy"],
         "metric": "accuracy", "prediction": prediction, "solution": solution},
        {"id": "toy-no-board", "kind": "prediction", "question": "Predict y for test.csv.", "data_files": ["toy"],
         "metric": "accuracy", "prediction": {**prediction, "leaderboard_file": None}, "solution": solution},
        {"id": "toy-lost-labels", "kind": "prediction", "question": "Predict y.", "data_files": ["toy"],
         "metric": "accuracy", "prediction": {**prediction, "labels_file": "hidden/nowhere.csv"}},
    ]}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return {"root": root, "marker": marker, "test": test, "scores": scores}
