import pandas as pd
import statsmodels.formula.api as smf

df = pd.read_csv("/data/nsw_mixtape.csv")       # the experimental sample: treated and controls
fit = smf.ols("re78 ~ treat + age + I(age**2) + educ + black + hisp + marr + nodegree + re74 + re75", data=df).fit()
answer = float(fit.params["treat"])
