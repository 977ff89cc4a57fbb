"""Two SFT steps with TRL on CPU over agent conversations saved with ``datasets.save_to_disk``.

The tokenizer and the model are built locally (see ``tests/support/sft_smoke.py``): nothing is downloaded.
torch, trl, transformers and accelerate must be installed; a missing one fails the test, it never skips.
"""

from __future__ import annotations

import math

import pytest

SYSTEM = (
    "You are a data-science agent working in a Jupyter kernel. Reply with Python code inside "
    "<python>...</python> to run it, or with your final answer inside <answer>...</answer>."
)

TASKS = [
    ("What is the mean of column `y` in /data/numbers.csv? Round to 2 decimals.",
     "import pandas as pd\ndf = pd.read_csv('/data/numbers.csv')\nprint(round(df['y'].mean(), 2))",
     "2.97", "2.97"),
    ("How many rows of /data/sales.csv have `region == 'EU'`?",
     "import pandas as pd\ndf = pd.read_csv('/data/sales.csv')\nprint((df['region'] == 'EU').sum())",
     "412", "412"),
    ("Which column of /data/housing.csv has the most missing values?",
     "import pandas as pd\ndf = pd.read_csv('/data/housing.csv')\nprint(df.isna().sum().idxmax())",
     "total_bedrooms", "total_bedrooms"),
    ("Fit a linear regression of `price` on `sqft` in /data/houses.csv; report the slope (3 decimals).",
     "import pandas as pd\nfrom sklearn.linear_model import LinearRegression\n"
     "df = pd.read_csv('/data/houses.csv')\nm = LinearRegression().fit(df[['sqft']], df['price'])\n"
     "print(round(m.coef_[0], 3))",
     "151.238", "151.238"),
    ("What is the Pearson correlation between `age` and `income` in /data/people.csv?",
     "import pandas as pd\ndf = pd.read_csv('/data/people.csv')\nprint(df['age'].corr(df['income']).round(4))",
     "0.3127", "0.3127"),
    ("Count the distinct values of `species` in /data/iris.csv.",
     "import pandas as pd\nprint(pd.read_csv('/data/iris.csv')['species'].nunique())",
     "3", "3"),
    ("What is the median `fare` of passengers who survived in /data/titanic.csv?",
     "import pandas as pd\ndf = pd.read_csv('/data/titanic.csv')\nprint(df.loc[df.survived == 1, 'fare'].median())",
     "26.0", "26.0"),
    ("Which month in /data/weather.csv had the highest average temperature?",
     "import pandas as pd\ndf = pd.read_csv('/data/weather.csv', parse_dates=['date'])\n"
     "print(df.groupby(df.date.dt.month_name())['temp'].mean().idxmax())",
     "July", "July"),
]


def _rows() -> list[dict]:
    rows = []
    for index, (question, code, output, answer) in enumerate(TASKS):
        # Half the observations come back as a "tool" turn, half as a "user" turn (as dsgym's ReAct agent does).
        observation_role = "tool" if index % 2 == 0 else "user"
        rows.append({
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": question},
                {"role": "assistant", "content": f"Let me load the data.\n<python>\n{code}\n</python>"},
                {"role": observation_role, "content": f"Output:\n{output}\n"},
                {"role": "assistant", "content": f"<answer>{answer}</answer>"},
            ],
            # Extra columns, as a real SFT export has; train_two_steps must ignore them.
            "task_id": f"demo/task-{index}",
            "reward": 1.0,
        })
    return rows


@pytest.mark.slow
def test_two_sft_steps_on_cpu(tmp_path, monkeypatch):
    for name, value in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                        "WANDB_DISABLED": "true", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
                        "HF_HOME": str(tmp_path / "hf-home"),
                        "HF_DATASETS_CACHE": str(tmp_path / "hf-datasets")}.items():
        monkeypatch.setenv(name, value)
    import datasets

    from tests.support.sft_smoke import train_two_steps

    datasets.Dataset.from_list(_rows()).save_to_disk(str(tmp_path / "ds"))

    result = train_two_steps(tmp_path / "ds", tmp_path / "work")

    assert result["steps"] == 2
    assert result["examples"] == len(TASKS)
    assert len(result["losses"]) == 2, result
    assert all(math.isfinite(loss) and loss > 0 for loss in result["losses"]), result
    assert result["weights_changed"], result
    assert result["trained_tokens"] > 0, result
