import pandas as pd

df = pd.read_csv("/data/macrodata.csv").sort_values(["year", "quarter"]).reset_index(drop=True)
per_person = df["realgdp"] / df["pop"]
change = 100 * per_person.pct_change()       # quarter-over-quarter, %; the first quarter has none
answer = float(change.nsmallest(3).mean())
