import numpy as np
import pandas as pd

df = pd.read_csv("/data/wine.csv").drop(columns="cultivar")
corr = df.corr(method="spearman")
upper = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1))   # upper triangle, no diagonal
a, b = upper.abs().stack().idxmax()
answer = float(corr.loc[a, b])
