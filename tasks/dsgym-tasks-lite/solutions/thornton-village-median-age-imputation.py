import pandas as pd

df = pd.read_csv("/data/thornton_hiv.csv").dropna(subset=["villnum"])
missing = df["age"].isna()
age = df["age"].fillna(df.groupby("villnum")["age"].transform("median"))
answer = float(age[missing].mean())
