import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

df = pd.read_csv("/data/organ_donations.csv")
after = df["Quarter"].isin(["Q32011", "Q42011", "Q12012"])
df["treated"] = ((df["State"] == "California") & after).astype(int)
df["log_rate"] = np.log(df["Rate"])
fit = smf.ols("log_rate ~ treated + C(State) + C(Quarter)", data=df).fit()
answer = float(fit.params["treated"])
