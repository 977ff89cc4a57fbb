import numpy as np
import pandas as pd
from statsmodels.tsa.filters.hp_filter import hpfilter

df = pd.read_csv("/data/macrodata.csv").sort_values(["year", "quarter"])
cycle, trend = hpfilter(100 * np.log(df["realgdp"].to_numpy()), lamb=1600)
answer = float(np.std(cycle, ddof=1))
