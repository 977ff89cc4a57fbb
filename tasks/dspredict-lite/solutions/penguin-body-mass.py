# Reference solution: a random forest (300 trees, at least 5 birds per leaf) on the measurements, the year and
# one 0/1 column per species, island and sex; the leaderboard entry "rf-300trees-minleaf5-one-hot-features".
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

train = pd.read_csv("/data/penguin-body-mass/train.csv")
test = pd.read_csv("/data/penguin-body-mass/test.csv")
levels = {"species": ["Adelie", "Chinstrap", "Gentoo"], "island": ["Biscoe", "Dream", "Torgersen"],
          "sex": ["female", "male"]}


def features(frame):
    out = frame[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "year"]].astype(float)
    for column, values in levels.items():
        for value in values:
            out[f"{column}_{value}"] = (frame[column] == value).astype(float)  # a missing sex: all 0
    return out.to_numpy(dtype=float)


model = RandomForestRegressor(n_estimators=300, min_samples_leaf=5, random_state=0, n_jobs=1)
model.fit(features(train), train["body_mass_g"].to_numpy(dtype=float))
pred = model.predict(features(test))

pd.DataFrame({"id": test["id"], "body_mass_g": pred}).to_csv("/workspace/submission.csv", index=False)
answer = "submitted"
