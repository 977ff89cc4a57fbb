"""A scripted analyst for the synthesis pipeline, served by ``tests.support.fake_openai.FakeOpenAI``.

    analyst = ScriptedAnalyst(seed_base=1000)
    with FakeOpenAI(replies=analyst) as fake:
        synthesize(SynthSettings(..., model="fake", base_url=fake.base_url,
                                 agent_kwargs={"seed": 1000}), out)

It answers the three kinds of request the pipeline makes, told apart by their
system prompt:

* question generation: reads the dataset profile in the prompt (files, numeric and
  text columns) and proposes questions from ``TEMPLATES`` (plus one malformed entry);
* rollouts (the react agent): plays each question by a *behaviour* picked by the
  rollout's sample index (the request's ``seed`` minus ``seed_base``) from the
  template's ``PLANS`` row: ``right`` (load, compute, answer the printed value),
  ``wrong`` (computes another statistic and answers it), ``claim`` (answers a
  number its code never printed), ``trivial`` (one cell), ``silent`` (never
  answers);
* the blind probe: answers only the ``shortcut`` template, whose answer is in the
  question itself.

Everything it does is a function of the request, so a fresh instance resumes a run
whose earlier replies came from the cache.  ``expected_kept`` says which rollouts
the pipeline must keep.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dsgym.filter.probe import SYSTEM as PROBE_SYSTEM
from dsgym.synth.generate import SYSTEM as GENERATE_SYSTEM
from tests.support.fake_openai import message_text

BEGIN, END = "@@value@@", "@@/value@@"
MARKED = re.compile(re.escape(BEGIN) + r"(.*?)" + re.escape(END), re.DOTALL)
FILE = re.compile(r"^File (/data/\S+) \(", re.MULTILINE)
COLUMN = re.compile(r"^  - (.+?) \((\w+)\): ", re.MULTILINE)

# template -> (answer type, decimals, question text with {path} {a} {b} {cat})
TEMPLATES: dict[str, tuple[str, int, str]] = {
    "conditional_mean": ("number", 3, "Using {path}, compute the mean of column '{a}' over the rows where '{b}' "
                                      "is greater than its median."),
    "count_above": ("number", 0, "Using {path}, how many rows have a value of '{a}' above that column's mean?"),
    "top_group": ("text", 0, "Using {path}, which value of '{cat}' has the highest mean of '{a}'?"),
    "near_duplicate": ("number", 3, "Using {path}, compute the mean of column '{a}' over the rows where '{b}' "
                                    "is greater than its median value."),
    "row_count": ("number", 0, "Using {path}, how many rows does the table hold?"),
    "shortcut": ("text", 0, "Using {path}: one of its columns is called '{a}'. What is the name of that column?"),
    "spread": ("number", 2, "Using {path}, what is the standard deviation of '{a}' among rows with '{b}' below "
                            "its mean?"),
}
# template -> behaviour of rollout 0, 1, 2
PLANS: dict[str, tuple[str, ...]] = {
    "conditional_mean": ("right", "right", "wrong"),   # kept: 0, 1 (2 is verified but in the minority)
    "count_above": ("right", "claim", "right"),         # kept: 0, 2 (1 claims a number it never printed)
    "top_group": ("right", "wrong", "claim"),           # dropped: no majority
    "near_duplicate": ("right", "right", "right"),      # dropped before rollouts: near-duplicate
    "row_count": ("trivial", "trivial", "trivial"),     # dropped: trivial
    "shortcut": ("right", "right", "right"),            # dropped: the blind probe answers it
    "spread": ("right", "silent", "silent"),            # dropped: no majority (two never answer)
}
KEPT = {"conditional_mean": (0, 1), "count_above": (0, 2)}


def expected_kept(tasks: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """(task id, sample) pairs the pipeline must keep, from ``tasks.jsonl`` rows and ``KEPT``."""
    out = set()
    for row in tasks:
        template = template_of(row["question"])
        for sample in KEPT.get(template, ()):
            out.add((row["id"], sample))
    return out


def template_of(question: str) -> str:
    for name, (_, _, text) in TEMPLATES.items():
        pattern = re.escape(text).replace(r"\{path\}", r"\S+?").replace(r"\{a\}", ".+?") \
            .replace(r"\{b\}", ".+?").replace(r"\{cat\}", ".+?")
        if re.fullmatch(pattern, question.strip()):
            return name
    raise AssertionError(f"not a scripted question: {question!r}")


def _fields(question: str) -> dict[str, str]:
    path = re.search(r"(/data/\S+?)[,:]", question).group(1)
    quoted = re.findall(r"'([^']+)'", question)
    return {"path": path, "quoted": quoted}


def _loader(path: str) -> str:
    if path.endswith(".h5ad"):
        return f"import anndata\ndf = anndata.read_h5ad({path!r}).obs"
    if path.endswith(".tsv"):
        return f"import pandas as pd\ndf = pd.read_csv({path!r}, sep='\\t')"
    if path.endswith(".txt"):
        return f"import pandas as pd\ndf = pd.read_csv({path!r}, sep=None, engine='python')"
    return f"import pandas as pd\ndf = pd.read_csv({path!r})"


def _expression(template: str, quoted: list[str], wrong: bool) -> str:
    if template in ("conditional_mean", "near_duplicate"):
        a, b = quoted
        cut = f"df[{b!r}].mean()" if wrong else f"df[{b!r}].median()"
        return f"round(float(df.loc[df[{b!r}] > {cut}, {a!r}].mean()), 3)"
    if template == "count_above":
        return f"int((df[{quoted[0]!r}] > df[{quoted[0]!r}].mean()).sum())"
    if template == "top_group":
        cat, a = quoted
        pick = "idxmin" if wrong else "idxmax"
        return f"df.groupby({cat!r}, observed=True)[{a!r}].mean().{pick}()"
    if template == "row_count":
        return "len(df)"
    if template == "shortcut":
        return "df.select_dtypes('number').columns[0]"
    if template == "spread":
        a, b = quoted
        return f"round(float(df.loc[df[{b!r}] < df[{b!r}].mean(), {a!r}].std()), 2)"
    raise AssertionError(template)


def _marked(expression: str) -> str:
    return f"print({BEGIN!r} + str({expression}) + {END!r})"


class ScriptedAnalyst:
    """The reply function (see the module docstring)."""

    def __init__(self, seed_base: int = 1000, questions_per_dataset: int | None = None) -> None:
        self.seed_base = seed_base
        self.limit = questions_per_dataset
        self.calls: dict[str, int] = {"generate": 0, "rollout": 0, "probe": 0}

    def __call__(self, request: dict[str, Any]) -> str:
        messages = request["messages"]
        system = message_text(messages[0]) if messages and messages[0]["role"] == "system" else ""
        if system == GENERATE_SYSTEM:
            self.calls["generate"] += 1
            return self.generate(message_text(messages[1]))
        if system == PROBE_SYSTEM:
            self.calls["probe"] += 1
            return self.probe(message_text(messages[1]))
        self.calls["rollout"] += 1
        return self.act(messages, int(request.get("seed", self.seed_base)) - self.seed_base)

    # -- generation -----------------------------------------------------------------------------
    def generate(self, prompt: str) -> str:
        questions = []
        sections = FILE.split(prompt)[1:]
        for path, body in zip(sections[::2], sections[1::2]):
            if path.endswith(".h5ad"):  # questions about the cell table; var columns come after it
                body = body.split(".var columns:")[0]
            columns = [(n, t) for n, t in COLUMN.findall(body) if n not in ("obs_name", "var_name")]
            numeric = [name for name, dtype in columns if dtype.startswith(("int", "float"))]
            text = [name for name, dtype in columns if dtype in ("object", "category", "str", "string")]
            for name, (kind, decimals, template) in TEMPLATES.items():
                if name == "top_group" and not (text and numeric):
                    continue
                if name in ("conditional_mean", "near_duplicate", "spread") and len(numeric) < 2:
                    continue
                if name in ("count_above", "shortcut") and not numeric:
                    continue
                a = numeric[0] if numeric else ""
                b = numeric[1] if len(numeric) > 1 else ""
                entry = {"question": template.format(path=path, a=a, b=b, cat=text[0] if text else ""),
                         "answer_type": kind}
                if kind == "number":
                    entry["decimals"] = decimals
                questions.append(entry)
            break  # one file per dataset is enough
        if self.limit is not None:
            questions = questions[:self.limit]
        questions.append({"question": "Draw a histogram of every column.", "answer_type": "chart"})
        return "Here are the questions.\n<questions>\n" + json.dumps(questions, indent=1) + "\n</questions>"

    # -- the blind probe ------------------------------------------------------------------------
    def probe(self, prompt: str) -> str:
        question = re.search(r"Question: (.*)", prompt).group(1)
        if template_of(question) == "shortcut":
            return f"<answer>{_fields(question)['quoted'][0]}</answer>"
        return "<answer>I cannot know without the data</answer>"

    # -- rollouts -------------------------------------------------------------------------------
    def act(self, messages: list[dict[str, Any]], sample: int) -> str:
        prompt = message_text(messages[1])
        question = re.search(r"Question: (.*)", prompt).group(1)
        template = template_of(question)
        behaviour = PLANS[template][sample % len(PLANS[template])]
        fields = _fields(question)
        turn = sum(1 for m in messages if m["role"] == "assistant")
        observation = message_text(messages[-1])
        load = _loader(fields["path"])
        if behaviour == "trivial":
            if turn == 0:
                return f"One step does it.\n<python>\n{load}\n{_marked(_expression(template, fields['quoted'], False))}\n</python>"
            return self._answer(observation)
        if behaviour == "silent":
            return f"Let me look again.\n<python>\n{load}\nprint(df.shape)\n</python>"
        if turn == 0:
            return f"First I load the data.\n<python>\n{load}\nprint(df.shape)\n</python>"
        if behaviour == "claim":
            return "From the shape I can tell the answer.\n<answer>123.457</answer>"
        if turn == 1:
            expression = _expression(template, fields["quoted"], behaviour == "wrong")
            return f"Now I compute it.\n<python>\n{_marked(expression)}\n</python>"
        return self._answer(observation)

    @staticmethod
    def _answer(observation: str) -> str:
        found = MARKED.search(observation)
        if found is None:
            raise AssertionError(f"no computed value in the observation: {observation[:400]!r}")
        return f"The output shows it.\n<answer>{found.group(1).strip()}</answer>"
