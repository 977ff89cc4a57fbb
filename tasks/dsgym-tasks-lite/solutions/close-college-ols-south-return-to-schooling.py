import pandas as pd
import statsmodels.formula.api as smf

df = pd.read_csv("/data/close_college.csv")
fit = smf.ols("lwage ~ educ * south + exper + I(exper**2) + black + smsa", data=df).fit()
answer = float(fit.params["educ"] + fit.params["educ:south"])   # the slope for men in the South (south = 1)
