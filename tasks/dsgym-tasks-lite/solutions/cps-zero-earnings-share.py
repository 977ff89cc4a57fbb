import pandas as pd

df = pd.read_csv("/data/cps_mixtape.csv")
idle = df[(df["re74"] == 0) & (df["re75"] == 0)]
answer = float(100 * (idle["re78"] > 0).mean())
