import pandas as pd

df = pd.read_csv("/data/grunfeld.csv")
corr = df.groupby("firm")[["invest", "value"]].apply(lambda d: d["invest"].corr(d["value"]))
answer = float(corr.min())
