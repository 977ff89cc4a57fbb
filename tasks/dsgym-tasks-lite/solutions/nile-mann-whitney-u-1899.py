import pandas as pd
from scipy import stats

df = pd.read_csv("/data/nile.csv")
early = df.loc[df["year"] <= 1898, "volume"]
late = df.loc[df["year"] >= 1899, "volume"]
answer = float(stats.mannwhitneyu(early, late, alternative="two-sided").statistic)
