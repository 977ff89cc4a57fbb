# Reference solution: a random forest (300 trees) on the measurements, the year and one 0/1 column per
# species and island; the leaderboard entry "rf-300trees-one-hot-features".
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

train = pd.read_csv("/data/penguin-sex/train.csv")
test = pd.read_csv("/data/penguin-sex/test.csv")
levels = {"species": ["Adelie", "Chinstrap", "Gentoo"], "island": ["Biscoe", "Dream", "Torgersen"]}


def features(frame):
    out = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "year"]].astype(float)
    for column, values in levels.items():
        for value in values:
            out[f"{column}_{value}"] = (frame[column] == value).astype(float)
    return out.to_numpy(dtype=float)


model = RandomForestClassifier(n_estimators=300, random_state=0, n_jobs=1)
model.fit(features(train), train["female"].to_numpy())
proba = model.predict_proba(features(test))

pd.DataFrame({"id": test["id"], "female": model.classes_[np.argmax(proba, axis=1)]}).to_csv(
    "/workspace/submission.csv", index=False)
answer = "submitted"
