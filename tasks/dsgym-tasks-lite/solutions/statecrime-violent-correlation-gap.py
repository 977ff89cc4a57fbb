import pandas as pd

df = pd.read_csv("/data/statecrime.csv")      # every row of the file
predictors = ["hs_grad", "poverty", "single", "white", "urban"]
strength = df[predictors].corrwith(df["violent"], method="pearson").abs().sort_values(ascending=False)
answer = float(strength.iloc[0] - strength.iloc[-1])
