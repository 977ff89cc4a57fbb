"""The react / codeact scaffolds against the local fake OpenAI server (loopback only).

Unit tests drive ``act`` directly; tests marked ``docker`` play whole episodes with
``dsgym.episode.play`` in real sandboxes, the fake server scripted by
``tests.support.scripted_model``.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

import dsgym
from dsgym.actions import FORMAT_HELP
from dsgym.agents import AGENTS, CodeActAgent, ReActAgent, load_agent, prompts
from dsgym.agents.react import estimate_tokens, extract_action
from dsgym.episode import play
from dsgym.llm import LLMError
from tests.support.fake_openai import FakeOpenAI, count_tokens, message_text
from tests.support.scripted_model import (Conversation, ScriptedModel, answer_marked, print_marked, python,
                                          solve_with_reference)

IRIS = "dsgym-tasks-lite/iris-weakest-anova-feature"
ENV_VARS = ["DSGYM_MODEL", "DSGYM_BASE_URL", "OPENAI_BASE_URL", "DSGYM_API_KEY", "OPENAI_API_KEY",
            "DSGYM_TEMPERATURE", "DSGYM_MAX_TOKENS", "DSGYM_MAX_CONTEXT_TOKENS", "DSGYM_LLM_CACHE"]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def iris_task():
    return dsgym.registry.get_task("dsgym-tasks-lite", "iris-weakest-anova-feature")


def limits(max_turns: int, cell_timeout: float = 5.0, episode_budget: float = 60.0) -> dict:
    """``reset``'s info as an agent gets it: where the limits come from."""
    return {"limits": {"max_turns": max_turns, "cell_timeout": cell_timeout, "episode_budget": episode_budget}}


def make_agent(fake: FakeOpenAI, tmp_path, cls=ReActAgent, **options) -> ReActAgent:
    options.setdefault("cache_dir", tmp_path / "llm")
    options.setdefault("backoff", 0.01)
    return cls(model="fake-model", base_url=fake.base_url, api_key="sk-test-secret", **options)


def server_usage(fake: FakeOpenAI, replies: list[str]) -> dict[str, int]:
    """What the fake's ``usage`` fields add up to, for its successful calls and the replies it gave."""
    prompt = sum(count_tokens(message_text(m)) for body in fake.requests for m in body["messages"])
    completion = sum(count_tokens(r) for r in replies)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


# ----- reading actions ------------------------------------------------------------------------------


@pytest.mark.parametrize("reply, kind, action, how", [
    ("Load it.\n<python>\nimport pandas\n</python>", "code", "<python>\nimport pandas\n</python>", "tag"),
    ("Done: <ANSWER> 4.2 </ANSWER>", "answer", "<ANSWER> 4.2 </ANSWER>", "tag"),
    ("<think>maybe <answer>1</answer>?</think>Check first.\n<python>x = 1</python>", "code",
     "<python>x = 1</python>", "tag"),
    ("Run it.\n<python>\nprint(df.shape)\n", "code", "<python>\nprint(df.shape)\n</python>", "unclosed"),
    ("<python>\n```python\nx = 2\n```", "code", "<python>\n```python\nx = 2\n</python>", "unclosed"),
    ("It is setosa.\n<answer>setosa", "answer", "<answer>setosa</answer>", "unclosed"),
    ("The F statistic is small.\n\nFinal Answer: 49.16", "answer", "<answer>49.16</answer>", "marker"),
    ("**Final Answer:** `49.16`\n", "answer", "<answer>49.16</answer>", "marker"),
    ("Final answer:\n\\boxed{7}", "answer", "<answer>7</answer>", "marker"),
    ("I think we should load the data first.", "none", "I think we should load the data first.", "none"),
    ("```python\nprint(1)\n```", "none", "```python\nprint(1)\n```", "none"),  # react: fences are not code
    ("```python\n# Final answer: the smallest F\nprint(1)\n```", "none",
     "```python\n# Final answer: the smallest F\nprint(1)\n```", "none"),  # a comment in code is no answer
    ("Submitting now: <answer>", "none", "Submitting now: <answer>", "none"),  # cut off: never an empty answer
    ("<think>try <python>1/0</python> later", "none", "", "none"),  # thinking that never ended
    ("", "none", "", "none"),
])
def test_extract_action(reply, kind, action, how):
    found = extract_action(reply)
    assert (found.kind, found.action, found.how) == (kind, action, how)
    assert dsgym.actions.parse_action(found.action).kind == ("invalid" if kind == "none" else kind)


def test_extract_action_takes_the_first_of_several_and_says_so():
    found = extract_action("<python>a = 1</python> and then <python>b = 2</python> <answer>3</answer>")
    assert found.action == "<python>a = 1</python>" and found.extra
    assert found.text[:found.end].endswith("</python>")  # the history keeps the reply up to its action
    assert not extract_action("<answer>3</answer>").extra
    found = extract_action("The value is below.\nFinal answer:\n  42\nThanks!")
    assert found.action == "<answer>42</answer>" and found.text[:found.end].endswith("42")


def test_codeact_reads_fenced_code_but_tags_come_first():
    fenced = "Load the data.\n```python\nimport pandas as pd\nprint(1)\n```\nthen\n```py\nprint(2)\n```"
    found = extract_action(fenced, accept_fenced=True)
    assert found.how == "fence" and found.action == "<python>\nimport pandas as pd\nprint(1)\n</python>"
    assert found.extra
    assert extract_action("```bash\nls\n```", accept_fenced=True).kind == "none"
    assert extract_action("```\nx = 1\n```\n<answer>2</answer>", accept_fenced=True).action == "<answer>2</answer>"
    # fenced code before a Final Answer line: the earlier one counts, as in the env
    assert extract_action("```python\nx = 1\n```\nFinal Answer: 3", accept_fenced=True).kind == "code"


# ----- configuration --------------------------------------------------------------------------------


def test_registered_and_loaded_with_the_cli_keywords():
    assert AGENTS["react"] is ReActAgent and AGENTS["codeact"] is CodeActAgent
    agent = load_agent("codeact", model="m1", base_url="http://127.0.0.1:9/v1", temperature=0.7, max_tokens=256)
    config = agent.config()
    assert config["agent"] == "codeact" and config["model"] == "m1"
    assert config["base_url"] == "http://127.0.0.1:9/v1"
    assert config["temperature"] == 0.7 and config["max_tokens"] == 256
    assert config["max_context_tokens"] == 32768 and config["cache"] is True
    json.dumps(config)


def test_a_missing_model_is_a_clear_error():
    with pytest.raises(ValueError, match="DSGYM_MODEL"):
        ReActAgent(base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ValueError, match="needs a model"):
        load_agent("react")


def test_environment_variables_configure_the_agent(monkeypatch):
    monkeypatch.setenv("DSGYM_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env-secret")
    monkeypatch.setenv("DSGYM_TEMPERATURE", "0.5")
    monkeypatch.setenv("DSGYM_MAX_TOKENS", "100")
    monkeypatch.setenv("DSGYM_MAX_CONTEXT_TOKENS", "4000")
    monkeypatch.setenv("DSGYM_LLM_CACHE", "0")
    config = ReActAgent().config()
    assert (config["model"], config["base_url"], config["temperature"], config["max_tokens"],
            config["max_context_tokens"], config["cache"]) == ("env-model", "http://127.0.0.1:9/v1", 0.5, 100,
                                                                4000, False)
    monkeypatch.setenv("DSGYM_BASE_URL", "http://127.0.0.1:8/v1")  # dsgym's own wins over OpenAI's
    assert ReActAgent(temperature=0.0).config()["base_url"] == "http://127.0.0.1:8/v1"
    monkeypatch.setenv("DSGYM_MAX_TOKENS", "lots")
    with pytest.raises(ValueError, match="DSGYM_MAX_TOKENS"):
        ReActAgent()


def test_the_api_key_is_sent_but_never_in_the_config(tmp_path, iris_task):
    with FakeOpenAI(replies="<answer>1</answer>") as fake:
        agent = make_agent(fake, tmp_path)
        assert "sk-test-secret" not in json.dumps(agent.config())
        agent.start(iris_task, "the task")
        agent.act(None)
        assert fake.received[0].headers["authorization"] == "Bearer sk-test-secret"


def test_act_before_start_is_an_error(tmp_path):
    with FakeOpenAI(replies="x") as fake, pytest.raises(RuntimeError, match="before start"):
        make_agent(fake, tmp_path).act(None)


# ----- the request: prompts, usage, endpoint failures ------------------------------------------------


def test_requests_hold_system_task_replies_and_observations(tmp_path, iris_task):
    model = ScriptedModel([python("x = 1"), "Oops, no action.", "<answer>2</answer>"])
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path, temperature=0.3, max_tokens=64, params={"top_p": 0.9})
        prompt = "Question: what?\nLimits: 5 turns, 5 s per code cell, 60 s for the whole episode."
        agent.start(iris_task, prompt, limits(5))
        assert agent.act(None) == "<python>\nx = 1\n</python>"
        assert agent.act("[no output]") == "Oops, no action."  # passed through: the env teaches the format
        assert agent.act(FORMAT_HELP) == "<answer>2</answer>"
    last = fake.requests[-1]
    assert last["temperature"] == 0.3 and last["max_tokens"] == 64 and last["top_p"] == 0.9
    assert [m["role"] for m in last["messages"]] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert last["messages"][1]["content"] == prompt
    assert "Result of turn 1 of 5:\n[no output]" in last["messages"][3]["content"]
    assert FORMAT_HELP in last["messages"][5]["content"]
    assert agent.usage == server_usage(fake, model.replies) == model.usage()
    assert agent.usage["total_tokens"] > 0 and agent.stats.requests == 3


def test_notes_teach_the_model_what_happened_to_its_reply(tmp_path, iris_task):
    model = ScriptedModel(["<python>a = 1</python><python>b = 2</python>", "```python\nprint(3)\n```",
                           "<answer>4</answer>"])
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path)
        agent.start(iris_task, "Question: q", limits(3))
        assert agent.act(None) == "<python>a = 1</python>"
        assert agent.act("[figure: 640x480 PNG saved as /tmp/dsgym-figures-x/t-0a1b2c-t1-1.png]") == \
            "```python\nprint(3)\n```"
        agent.act(FORMAT_HELP)
    second, third = (body["messages"] for body in fake.requests[1:])
    assert second[2]["content"] == "<python>a = 1</python>"  # the reply is kept up to its action
    assert "[figure: 640x480 PNG]" in second[3]["content"] and "/tmp/" not in second[3]["content"]
    assert prompts.NOTE_EXTRA_ACTIONS in second[3]["content"]
    assert prompts.NOTE_BARE_FENCE in third[5]["content"] and prompts.NOTE_LAST_TURN in third[5]["content"]


def test_the_turn_limit_comes_from_reset_info_never_from_the_prompt(tmp_path, iris_task):
    """A prompt that states other limits changes nothing; without info the agent knows no turn limit."""
    stated = "Question: q\nLimits: 2 turns, 5 s per code cell, 60 s for the whole episode."
    with FakeOpenAI(replies=ScriptedModel([python("x = 1")] * 6)) as fake:
        agent = make_agent(fake, tmp_path, cache=False)
        agent.start(iris_task, stated, limits(4))
        agent.act(None)
        agent.act("[no output]")
        agent.act("[no output]")
        headers = [body["messages"][-1]["content"] for body in fake.requests[1:]]
        assert headers[0].startswith("Result of turn 1 of 4:") and prompts.NOTE_LAST_TURN not in headers[0]
        assert prompts.NOTE_TURNS_LEFT.format(left=2) in headers[1]
        agent.start(iris_task, stated)  # driven by hand: no info, no limit
        agent.act(None)
        agent.act("[no output]")
        last = fake.requests[-1]["messages"][-1]["content"]
        assert last.startswith("Result of turn 1:\n") and "[note]" not in last


def test_a_reply_cut_at_the_token_limit_still_runs_and_is_noted(tmp_path, iris_task):
    with FakeOpenAI(replies=["Let me see.\n<python>\nprint(df.head())", "<answer>1</answer>"],
                    finish_reason="length") as fake:
        agent = make_agent(fake, tmp_path, max_tokens=16)
        agent.start(iris_task, "Question: q")
        assert agent.act(None) == "<python>\nprint(df.head())\n</python>"
        agent.act("[no output]")
    assert prompts.NOTE_CUT_OFF in fake.requests[1]["messages"][-1]["content"]


def test_a_persistent_server_failure_is_an_llm_error(tmp_path, iris_task):
    with FakeOpenAI(replies="<answer>1</answer>") as fake:
        agent = make_agent(fake, tmp_path, max_retries=2)
        agent.start(iris_task, "the task")
        fake.fail_next(3, status=503)
        with pytest.raises(LLMError) as caught:
            agent.act(None)
        assert caught.value.status == 503 and caught.value.attempts == 3 and fake.calls == 3
        fake.fail_next(1, status=401, message="bad key")  # not retryable: at once
        with pytest.raises(LLMError, match="401"):
            agent.act(None)
        assert fake.calls == 4 and agent.usage["total_tokens"] == 0


def test_a_server_slower_than_the_timeout_is_an_llm_error(tmp_path, iris_task):
    with FakeOpenAI(replies="<answer>1</answer>", delay=0.5) as fake:
        agent = make_agent(fake, tmp_path, timeout=0.1, max_retries=1)
        agent.start(iris_task, "the task")
        with pytest.raises(LLMError, match="after 2 attempts"):
            agent.act(None)
        time.sleep(0.6)  # let the server finish the abandoned replies before it stops


# ----- the context budget ---------------------------------------------------------------------------


def test_a_tiny_budget_keeps_system_and_task_and_drops_the_oldest_turns(tmp_path, iris_task):
    budget = 1500
    codes = [f"part_{i} = load_part({i})\nprint(part_{i}.describe())" for i in range(12)]
    model = ScriptedModel([python(code, thought="Next part. " * 20) for code in codes])
    prompt = "Question: the task prompt, kept whole.\nLimits: 20 turns, 5 s per code cell, 60 s for the whole episode."
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path, max_context_tokens=budget, max_observation_chars=3000)
        agent.start(iris_task, prompt)
        agent.act(None)
        for turn in range(1, 12):
            agent.act(f"output {turn} " + "1.2345 " * 2000 + f"end of output {turn}")
    assert len(fake.requests) == 12
    for body in fake.requests:
        messages = body["messages"]
        assert estimate_tokens(messages) <= budget
        assert sum(count_tokens(message_text(m)) for m in messages) <= budget  # the server's own count
        assert messages[0] == {"role": "system", "content": agent.system_prompt}
        assert messages[1]["role"] == "user" and messages[1]["content"].startswith(prompt)
        roles = [m["role"] for m in messages[2:]]
        assert roles == ["assistant", "user"] * (len(roles) // 2)  # turns are dropped whole
    last = fake.requests[-1]["messages"]
    assert "end of output 11" in last[-1]["content"]  # the newest observation keeps its tail
    assert "[output truncated" in last[-1]["content"]
    note = last[1]["content"][len(prompt):]
    assert "[context note]" in note and "were removed" in note and "part_0 = load_part(0)" in note
    assert agent.stats.dropped_turns >= 5


def test_a_giant_reply_and_observation_are_cut_to_fit(tmp_path, iris_task):
    budget = 900  # the system prompt alone is about 600
    model = ScriptedModel([python("print('x' * 10**6)", thought="word " * 3000), "<answer>done</answer>"])
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path, max_context_tokens=budget)
        agent.start(iris_task, "Question: tiny?")
        agent.act(None)
        assert agent.act("x" * 50_000 + "THE END") == "<answer>done</answer>"
    messages = fake.requests[-1]["messages"]
    assert estimate_tokens(messages) <= budget and messages[1]["content"] == "Question: tiny?"
    assert messages[-1]["content"].rstrip().endswith("THE END")


def test_max_tokens_is_reserved_from_the_budget(tmp_path, iris_task):
    model = ScriptedModel([python("x = 1")] * 4)
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path, max_context_tokens=2000, max_tokens=1000)
        agent.start(iris_task, "Question: q")
        agent.act(None)
        for _ in range(3):
            agent.act("y " * 3000)
    assert agent.prompt_budget == 1000
    assert all(estimate_tokens(body["messages"]) <= 1000 for body in fake.requests)


# ----- the cache and sampling ----------------------------------------------------------------------


def numbered_replies():
    counter = itertools.count()
    return lambda request: f"Try this.\n<python>\nprint({next(counter)})\n</python>"


def play_turns(agent: ReActAgent, task, turns: int = 3) -> list[str]:
    agent.start(task, "Question: q")
    actions = [agent.act(None)]
    for _ in range(turns - 1):
        actions.append(agent.act("1"))
    return actions


def test_a_rerun_of_a_sample_replays_from_the_cache(tmp_path, iris_task):
    with FakeOpenAI(replies=numbered_replies()) as fake:
        first = make_agent(fake, tmp_path, temperature=1.0, sample_index=0)
        actions = play_turns(first, iris_task)
        spent = dict(first.usage)
        again = make_agent(fake, tmp_path, temperature=1.0, sample_index=0)  # a resumed run: same sample
        assert play_turns(again, iris_task) == actions
        assert fake.calls == 3 and again.stats.cache_hits == 3
        assert again.usage == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        assert spent["total_tokens"] > 0


def test_samples_with_different_indexes_are_distinct(tmp_path, iris_task):
    with FakeOpenAI(replies=numbered_replies()) as fake:
        runs = [play_turns(make_agent(fake, tmp_path, temperature=1.0, sample_index=i), iris_task)
                for i in range(3)]
        assert fake.calls == 9 and len({tuple(r) for r in runs}) == 3
        # without an explicit index, the n-th episode of a task on one agent is sample n
        agent = make_agent(fake, tmp_path, temperature=1.0)
        assert play_turns(agent, iris_task, 1) == runs[0][:1]  # sample 0: cached
        assert play_turns(agent, iris_task, 1) == runs[1][:1]  # sample 1: cached
        assert fake.calls == 9
        assert agent.config()["sample_index"] is None
        # start(..., sample_index=) sets it for the episode
        agent.start(iris_task, "Question: q", sample_index=2)
        assert agent.act(None) == runs[2][0] and fake.calls == 9


def test_the_cache_can_be_turned_off(tmp_path, iris_task):
    with FakeOpenAI(replies=numbered_replies()) as fake:
        one = play_turns(make_agent(fake, tmp_path, cache=False, sample_index=0), iris_task, 2)
        two = play_turns(make_agent(fake, tmp_path, cache=False, sample_index=0), iris_task, 2)
        assert fake.calls == 4 and one != two
        assert not (tmp_path / "llm").exists()


def test_a_seed_is_sent_per_sample(tmp_path, iris_task):
    with FakeOpenAI(replies="<answer>1</answer>") as fake:
        for index in (0, 1):
            agent = make_agent(fake, tmp_path, seed=100, sample_index=index, cache=False)
            agent.start(iris_task, "q")
            agent.act(None)
        assert [body["seed"] for body in fake.requests] == [100, 101]


# ----- whole episodes in real sandboxes ------------------------------------------------------------


@pytest.mark.docker
def test_react_solves_a_task_end_to_end(make_env, tmp_path):
    env = make_env(IRIS, max_turns=4, cell_timeout=30)
    task = env.unwrapped.fixed_task
    model = ScriptedModel(solve_with_reference(task.solution))
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path)
        record = play(env.unwrapped, agent)
    assert record.error is None, record.error
    assert record.score == 1.0 and record.termination == "answer" and len(record.turns) == 2
    assert agent.usage == model.usage() == server_usage(fake, model.replies)
    assert agent.usage["total_tokens"] > 0
    first = fake.requests[0]["messages"]
    assert first[0]["role"] == "system" and "<python>" in first[0]["content"] and "<answer>" in first[0]["content"]
    assert first[1] == {"role": "user", "content": record.prompt}
    assert model.conversations[1].marked() == record.answer


@pytest.mark.docker
def test_react_survives_a_misbehaving_model_and_server(make_env, tmp_path):
    env = make_env(IRIS, max_turns=8, cell_timeout=3)
    task = env.unwrapped.fixed_task
    seen: dict[str, str] = {}

    def after_prose(convo: Conversation) -> str:
        seen["format"] = convo.observation
        return python(f"{task.solution.rstrip()}\n{print_marked('answer')}")

    def after_solution(convo: Conversation) -> str:
        seen["value"] = convo.marked()
        fake.fail_next(1, status=429, retry_after=0)  # the next call is rate limited once
        return python("while True:\n    pass", thought="Let me spin forever.")

    def after_loop(convo: Conversation) -> str:
        seen["timeout"] = convo.observation
        return ""  # an empty completion

    def after_empty(convo: Conversation) -> str:
        seen["empty"] = convo.observation
        return python(print_marked("answer"), thought="Is the kernel still there?")

    model = ScriptedModel(["I believe I should look at the data first.", after_prose, after_solution,
                           after_loop, after_empty, answer_marked])
    with FakeOpenAI(replies=model) as fake:
        fake.fail_next(2, status=500)  # the first call fails twice
        agent = make_agent(fake, tmp_path)
        record = play(env.unwrapped, agent)
    assert record.error is None, record.error
    assert record.score == 1.0 and len(record.turns) == 6
    assert FORMAT_HELP in seen["format"] and FORMAT_HELP in seen["empty"]
    assert "[timeout]" in seen["timeout"] and "The kernel and its variables survive" in seen["timeout"]
    assert record.answer == seen["value"]
    assert fake.calls == 6 + 3 and agent.stats.retries == 3
    assert agent.usage == model.usage()  # failed calls cost nothing
    assert [t.action for t in record.turns][3] == ""


@pytest.mark.docker
def test_codeact_runs_fenced_code_on_a_slow_server(make_env, tmp_path):
    env = make_env(IRIS, max_turns=4, cell_timeout=30)
    task = env.unwrapped.fixed_task
    fenced = f"```python\n{task.solution.rstrip()}\n{print_marked('answer')}\n```"
    model = ScriptedModel([fenced, answer_marked])
    with FakeOpenAI(replies=model, delay=0.3) as fake:
        agent = make_agent(fake, tmp_path, cls=CodeActAgent)
        record = play(env.unwrapped, agent)
    assert record.error is None, record.error
    assert record.score == 1.0 and len(record.turns) == 2
    assert record.turns[0].action.startswith("<python>\nimport pandas")
    assert "fenced block" in fake.requests[0]["messages"][0]["content"]
    assert agent.usage == model.usage()


@pytest.mark.docker
def test_react_with_a_tiny_budget_still_solves_a_task(make_env, tmp_path):
    budget = 1400
    env = make_env(IRIS, max_turns=8, cell_timeout=30)
    task = env.unwrapped.fixed_task
    noisy = [python("print('noise ' * 3000)") for _ in range(3)]
    model = ScriptedModel([*noisy, *solve_with_reference(task.solution)])
    with FakeOpenAI(replies=model) as fake:
        agent = make_agent(fake, tmp_path, max_context_tokens=budget)
        record = play(env.unwrapped, agent)
    assert record.error is None, record.error
    assert record.score == 1.0 and len(record.turns) == 5
    for body in fake.requests:
        assert estimate_tokens(body["messages"]) <= budget
        assert body["messages"][1]["content"].startswith(record.prompt)
    assert "[context note]" in fake.requests[-1]["messages"][1]["content"]


@pytest.mark.docker
def test_an_endpoint_that_stays_down_ends_the_episode_with_an_llm_error(make_env, tmp_path):
    env = make_env(IRIS, max_turns=4, cell_timeout=30)
    with FakeOpenAI(replies="<answer>1</answer>") as fake:
        fake.fail_next(10, status=500)
        agent = make_agent(fake, tmp_path, max_retries=2)
        try:
            record = play(env.unwrapped, agent)
        except LLMError:  # a runner may let it propagate ...
            return
    assert record.termination == "error" and record.error.startswith("LLMError")  # ... or record its type
    assert getattr(record, "error_type", "model") == "model"
    assert fake.calls == 3 and not record.turns


def test_each_reply_is_kept_whole_and_the_chat_is_rebuilt_from_the_record(tmp_path, iris_task):
    replies = ["I will try two things.\n<python>a = 1</python><python>b = 2</python>",
               "<think>hmm</think>Now print.\n```python\nprint(3)\n```", "<answer>4</answer>"]
    observations = ["[figure: 640x480 PNG saved as /tmp/dsgym-figures-x/t-0a1b2c-t1-1.png]", FORMAT_HELP, "done"]
    prompt = "Question: q\nLimits: 3 turns, 5 s per code cell, 60 s for the whole episode."
    with FakeOpenAI(replies=ScriptedModel(replies), finish_reason="length") as fake:
        agent = make_agent(fake, tmp_path)
        agent.start(iris_task, prompt, limits(3))
        turns, observation = [], None
        for seen in observations:
            action = agent.act(observation)
            reply = agent.last_reply
            turns.append({"action": action, "observation": seen, "reply": reply.text, "cached": reply.cached,
                          "finish_reason": reply.finish_reason, "usage": reply.usage})
            observation = seen
        sent = fake.requests[-1]["messages"]
        assert [t["reply"] for t in turns] == replies  # whole: reasoning, think blocks, ignored second actions
        assert {t["finish_reason"] for t in turns} == {"length"} and not any(t["cached"] for t in turns)
        assert turns[0]["usage"]["completion_tokens"] == count_tokens(replies[0])
        record = {"prompt": prompt, "sample": 0, "turns": turns, "agent_config": agent.config(),
                  **limits(3)}
        chat = make_agent(fake, tmp_path).chat_from_record(iris_task, record)
        assert chat[:len(sent)] == [{"role": m["role"], "content": m["content"]} for m in sent]  # exactly as sent
        assert chat[len(sent):] == [{"role": "assistant", "content": "<answer>4</answer>"}]
        with pytest.raises(ValueError, match="another system prompt"):
            make_agent(fake, tmp_path, system_prompt="Be brief.").chat_from_record(iris_task, record)
        with pytest.raises(ValueError, match="holds no model replies"):
            make_agent(fake, tmp_path).chat_from_record(iris_task, {**record, "turns": [{"action": "x"}]})
