"""Plausible wrong methods, each written as a textual edit of a task's reference solution.

``compute_answers.py`` applies every edit (each ``old`` must occur in the solution), runs the edited
solution on the suite's data and stores the result in ``metadata.wrong_method_values``;
``tests/test_tasks.py`` checks that each of these values fails the task's metric, so the tolerances
accept the stated rounding and reject the methods below.
"""

from __future__ import annotations

WRONG_METHODS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "longley-vif-gnp": {
        "auxiliary regression without an intercept": [("sm.add_constant(df[others])", "df[others]")],
    },
    "grunfeld-fixed-effects-capital": {
        "firm and year fixed effects": [("+ C(firm)", "+ C(firm) + C(year)")],
        "pooled OLS without firm effects": [(" + C(firm)", "")],
    },
    "anes96-logit-selflr-odds-ratio": {
        "scikit-learn default L2-penalised LogisticRegression": [
            ('fit = smf.logit("vote ~ age + educ + income + selfLR", data=df).fit(disp=0)\n'
             'answer = float(np.exp(fit.params["selfLR"]))',
             "from sklearn.linear_model import LogisticRegression\n"
             'model = LogisticRegression(max_iter=1000).fit(df[["age", "educ", "income", "selfLR"]], df["vote"])\n'
             "answer = float(np.exp(model.coef_[0][3]))")],
    },
    "wine-knn-cv-accuracy": {
        "no StandardScaler": [("make_pipeline(StandardScaler(), ", "make_pipeline(")],
    },
    "iris-kmeans-ari": {
        "k-means on unscaled data": [('StandardScaler().fit_transform(df.drop(columns="species"))',
                                      'df.drop(columns="species")')],
    },
    "penguins-body-mass-max-cv": {
        "population SD (ddof=0)": [('agg(["std", "mean"])', 'agg([lambda s: s.std(ddof=0), "mean"])'),
                                   ('stats["std"]', "stats.iloc[:, 0]")],
    },
    "gapminder-2007-weighted-life-expectancy-gap": {
        "unweighted continent means": [(', weights=g["pop"]', "")],
    },
    "co2-1964-mean-after-interpolation": {
        "dropping the missing weeks": [('s.interpolate(method="time")', "s.dropna()")],
    },
    "thornton-village-median-age-imputation": {
        "filling with the overall median": [('df.groupby("villnum")["age"].transform("median")', 'df["age"].median()')],
        "filling with the village mean": [('transform("median")', 'transform("mean")')],
    },
    "penguins-gentoo-flipper-welch-t": {
        "Student's pooled-variance t": [("equal_var=False", "equal_var=True")],
    },
    "titanic-class-survival-chi-square": {
        "likelihood-ratio G statistic": [("pd.crosstab(df[\"class\"], df[\"survived\"]))",
                                          "pd.crosstab(df[\"class\"], df[\"survived\"]), lambda_=\"log-likelihood\")")],
    },
    "wine-proline-kruskal-wallis": {
        "one-way ANOVA F instead of Kruskal-Wallis": [("stats.kruskal(", "stats.f_oneway(")],
    },
    "anes96-dole-clinton-paired-t": {
        "independent-samples Welch t": [('stats.ttest_rel(df["DoleLR"], df["ClinLR"])',
                                         'stats.ttest_ind(df["DoleLR"], df["ClinLR"], equal_var=False)')],
    },
    "nhefs-attrition-baseline-weight-welch": {
        "Student's pooled t": [("equal_var=False", "equal_var=True")],
    },
    "penguins-adelie-sex-logit-marginal-effect": {
        "marginal effect at the means": [('at="overall"', 'at="mean"')],
        "raw coefficient x 100": [("answer = float(100 * ame[1])", 'answer = float(100 * fit.params["body_mass_g"])')],
    },
    "stackloss-huber-airflow": {
        "OLS": [('smf.rlm("STACKLOSS ~ AIRFLOW + WATERTEMP + ACIDCONC", data=df, M=sm.robust.norms.HuberT(t=1.345))',
                 'smf.ols("STACKLOSS ~ AIRFLOW + WATERTEMP + ACIDCONC", data=df)')],
    },
    "statecrime-hc3-single-t": {
        "non-robust": [('.fit(cov_type="HC3")', ".fit()")],
        "HC1": [('cov_type="HC3"', 'cov_type="HC1"')],
    },
    "sunspots-ar2-second-coefficient": {
        "OLS AutoReg": [("from statsmodels.tsa.arima.model import ARIMA",
                         "from statsmodels.tsa.ar_model import AutoReg"),
                        ('ARIMA(df["SUNACTIVITY"].to_numpy(), order=(2, 0, 0)).fit()',
                         'AutoReg(df["SUNACTIVITY"].to_numpy(), lags=2).fit()')],
    },
    "sunspots-ljung-box-q10": {
        "Box-Pierce Q": [('acorr_ljungbox(df["SUNACTIVITY"], lags=[10])["lb_stat"]',
                          'acorr_ljungbox(df["SUNACTIVITY"], lags=[10], boxpierce=True)["bp_stat"]')],
    },
    "elec-equip-holt-winters-forecast": {
        "damped trend": [('trend="add",', 'trend="add", damped_trend=True,')],
        "multiplicative seasonality": [('seasonal="add"', 'seasonal="mul"')],
    },
    "macrodata-hp-cycle-std": {
        "lambda = 100 (annual setting)": [("lamb=1600", "lamb=100")],
        "population SD (ddof=0)": [("ddof=1", "ddof=0")],
    },
    "macrodata-inflation-rolling-volatility-peak": {
        "ddof = 0": [(".std()", ".std(ddof=0)")],
    },
    "elnino-acf-lag-12": {
        "adjusted=True (divisor n-k)": [("acf(series, nlags=12)", "acf(series, nlags=12, adjusted=True)")],
    },
    "castle-twfe-did-log-homicide": {
        "unweighted OLS": [('smf.wls("l_homicide ~ post + C(sid) + C(year)", data=df, weights=df["popwt"])',
                            'smf.ols("l_homicide ~ post + C(sid) + C(year)", data=df)')],
    },
    "close-college-2sls-return-to-schooling": {
        "OLS": [("Xhat = Z @ np.linalg.lstsq(Z, X, rcond=None)[0]", "Xhat = X")],
    },
    "gov-transfers-rd-support": {
        "bandwidth 0.02": [("<= 0.01", "<= 0.02")],
        "difference in means within 0.01": [('"Support ~ eligible * Income_Centered"', '"Support ~ eligible"')],
    },
    "lmb-rd-democrat-ada-score": {
        "difference in means within the window": [('"score ~ democrat * x"', '"score ~ democrat"')],
    },
    "nhefs-ipw-quit-smoking-weight-gain": {
        "unadjusted difference in means": [("weights=w[treated]", "weights=None"), ("weights=w[~treated]", "weights=None")],
    },
    "nsw-cps-ipw-att": {
        "no squares or zero-earnings dummies": [
            ('"treat ~ age + I(age**2) + educ + I(educ**2) + black + hisp + marr + nodegree + re74 + re75 + u74 + u75"',
             '"treat ~ age + educ + black + hisp + marr + nodegree + re74 + re75"')],
    },
    "thornton-cluster-robust-se": {
        "HC1 (not clustered)": [('cov_type="cluster", cov_kwds={"groups": df["villnum"].astype(int)}', 'cov_type="HC1"')],
        "clustered without small-sample correction": [
            ('cov_kwds={"groups": df["villnum"].astype(int)}',
             'cov_kwds={"groups": df["villnum"].astype(int), "use_correction": False}')],
    },
    "statecrime-pca-first-component-share": {
        "PCA on unstandardized columns": [("StandardScaler().fit_transform(", "(")],
    },
    "nsw-experimental-regression-adjusted-effect": {
        "unadjusted difference in means": [(' + age + I(age**2) + educ + black + hisp + marr + nodegree + re74 + re75"',
                                            '"')],
    },
    "organ-donations-twfe-did": {
        "Rate instead of ln(Rate)": [('"log_rate ~', '"Rate ~')],
    },
    "cps-zero-earnings-share": {
        "share of all men with zero 1974 and 1975 earnings": [
            ('answer = float(100 * (idle["re78"] > 0).mean())', "answer = float(100 * len(idle) / len(df))")],
    },
    "nile-mann-whitney-u-1899": {
        "U of the later period": [("stats.mannwhitneyu(early, late,", "stats.mannwhitneyu(late, early,")],
    },
}
