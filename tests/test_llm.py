"""dsgym.llm.LLMClient against the local fake server (loopback only)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dsgym.llm import Completion, LLMClient, LLMError, Usage, shared_cache_dir
from tests.support.fake_openai import FakeOpenAI

HELLO = [{"role": "user", "content": "say hello to the gym"}]


@pytest.fixture
def fake():
    with FakeOpenAI(replies=lambda request: "hello there") as server:
        yield server


def make_client(server: FakeOpenAI, tmp_path, **options) -> LLMClient:
    options.setdefault("backoff", 0.0)
    return LLMClient("fake-model", base_url=server.base_url, api_key="test-key",
                     cache_dir=tmp_path / "llm", **options)


def test_chat_returns_text_usage_and_sends_the_request(fake, tmp_path):
    client = make_client(fake, tmp_path, max_tokens=64)
    reply = client.chat(HELLO)
    assert isinstance(reply, Completion)
    assert reply.text == "hello there" and reply.texts == ("hello there",)
    assert reply.usage == Usage(prompt_tokens=5, completion_tokens=2, total_tokens=7)
    assert not reply.cached and reply.finish_reason == "stop" and reply.id.startswith("chatcmpl-")
    sent = fake.requests[0]
    assert sent["model"] == "fake-model" and sent["messages"] == HELLO
    assert sent["temperature"] == 0.0 and sent["max_tokens"] == 64
    assert fake.received[0].headers["authorization"] == "Bearer test-key"
    assert client.stats.api_calls == 1 and client.stats.usage.total_tokens == 7


def test_a_plain_string_is_one_user_message(fake, tmp_path):
    make_client(fake, tmp_path).chat("just this")
    assert fake.requests[0]["messages"] == [{"role": "user", "content": "just this"}]


def test_bad_messages_are_a_type_error(fake, tmp_path):
    client = make_client(fake, tmp_path)
    for bad in ([], [{"content": "no role"}], None, 42):
        with pytest.raises(TypeError):
            client.chat(bad)
    assert fake.calls == 0


def test_rerun_is_served_from_disk_without_a_request(fake, tmp_path):
    first = make_client(fake, tmp_path).chat(HELLO)
    again = make_client(fake, tmp_path)  # a fresh client: only the disk cache is shared
    reply = again.chat(HELLO)
    assert fake.calls == 1
    assert reply.cached and reply.text == first.text and reply.usage == first.usage
    assert again.stats.api_calls == 0 and again.stats.cache_hits == 1 and again.stats.usage == Usage()
    files = list((tmp_path / "llm").iterdir())
    assert [f.suffix for f in files] == [".json"]  # one entry, no temp file left behind
    entry = json.loads(files[0].read_text())
    assert entry["request"]["messages"] == HELLO and entry["response"]["texts"] == ["hello there"]


def test_the_cache_key_covers_model_endpoint_messages_and_sampling(fake, tmp_path):
    client = make_client(fake, tmp_path)
    client.chat(HELLO)
    client.chat(HELLO, temperature=0.5)
    client.chat(HELLO, max_tokens=10)
    client.chat([{"role": "user", "content": "something else"}])
    LLMClient("other-model", base_url=fake.base_url, cache_dir=tmp_path / "llm", backoff=0).chat(HELLO)
    assert fake.calls == 5
    client.chat(HELLO, temperature=0.5)
    assert fake.calls == 5


def test_caching_can_be_disabled(fake, tmp_path):
    client = make_client(fake, tmp_path, cache=False)
    assert not client.chat(HELLO).cached and not client.chat(HELLO).cached
    assert fake.calls == 2 and not (tmp_path / "llm").exists()
    cached = make_client(fake, tmp_path)
    cached.chat(HELLO, cache=False)  # per call, too
    assert fake.calls == 3 and not (tmp_path / "llm").exists()


def test_retries_after_server_errors_and_rate_limits(fake, tmp_path):
    client = make_client(fake, tmp_path)
    fake.fail_next(2, status=500)
    fake.fail_next(1, status=429, retry_after=0)
    reply = client.chat(HELLO)
    assert reply.text == "hello there" and reply.attempts == 4
    assert fake.calls == 4 and len(fake.requests) == 1
    assert [r.status for r in fake.received] == [500, 500, 429, 200]
    assert client.stats.retries == 3 and client.stats.api_calls == 1


def test_gives_up_after_max_retries_with_a_clear_error(fake, tmp_path):
    client = make_client(fake, tmp_path, max_retries=2)
    fake.fail_next(5, status=503)
    with pytest.raises(LLMError, match="failed after 3 attempts: HTTP 503") as info:
        client.chat(HELLO)
    assert info.value.status == 503 and info.value.attempts == 3 and fake.calls == 3
    assert not (tmp_path / "llm").exists()  # failures are never cached


def test_client_errors_are_not_retried(fake, tmp_path):
    client = make_client(fake, tmp_path)
    fake.fail_next(1, status=400, message="bad request")
    with pytest.raises(LLMError, match="HTTP 400") as info:
        client.chat(HELLO)
    assert info.value.status == 400 and fake.calls == 1


def test_connection_errors_are_retried_then_reported(tmp_path):
    server = FakeOpenAI().start()
    url = server.base_url
    server.stop()  # nothing listens on that loopback port any more
    client = LLMClient("fake-model", base_url=url, cache_dir=tmp_path, max_retries=1, backoff=0.0, timeout=5)
    with pytest.raises(LLMError, match="after 2 attempts: APIConnectionError"):
        client.chat(HELLO)
    assert client.stats.retries == 1


def test_distinct_samples_are_cached_separately(tmp_path):
    counter = iter(range(100))
    with FakeOpenAI(replies=lambda request: f"sample {next(counter)}") as fake:
        client = make_client(fake, tmp_path, temperature=0.8)
        first = [c.text for c in client.samples(HELLO, 3)]
        assert first == ["sample 0", "sample 1", "sample 2"] and fake.calls == 3
        assert all(r["temperature"] == 0.8 and "sample_index" not in r for r in fake.requests)
        again = make_client(fake, tmp_path, temperature=0.8)
        assert [c.text for c in again.samples(HELLO, 4)] == first + ["sample 3"]
        assert fake.calls == 4
        assert again.chat(HELLO, sample_index=1).text == "sample 1" and fake.calls == 4


def test_n_choices_in_one_request(tmp_path):
    with FakeOpenAI(replies=["a", "b", "c"]) as fake:
        client = make_client(fake, tmp_path, temperature=1.0)
        reply = client.chat(HELLO, n=3)
        assert reply.texts == ("a", "b", "c") and reply.text == "a" and fake.calls == 1
        assert reply.usage.completion_tokens == 3
        assert make_client(fake, tmp_path, temperature=1.0).chat(HELLO, n=3).texts == ("a", "b", "c")
        assert fake.calls == 1


def test_a_damaged_cache_entry_is_a_miss(fake, tmp_path):
    client = make_client(fake, tmp_path)
    reply = client.chat(HELLO)
    path = tmp_path / "llm" / f"{reply.key}.json"
    path.write_text('{"truncated":')
    assert not client.chat(HELLO).cached and fake.calls == 2
    assert client.chat(HELLO).cached and fake.calls == 2


def test_threads_share_a_client_and_never_ask_twice(tmp_path):
    with FakeOpenAI(replies=lambda request: "echo: " + request["messages"][-1]["content"], delay=0.05) as fake:
        client = make_client(fake, tmp_path)
        results: dict[int, str] = {}

        def work(i: int) -> None:
            results[i] = client.chat(f"prompt {i % 4}").text

        threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert results == {i: f"echo: prompt {i % 4}" for i in range(16)}
        assert fake.calls == 4  # identical concurrent requests wait for the first one
        assert client.stats.api_calls == 4 and client.stats.cache_hits == 12


def test_no_disk_cache_unless_one_is_asked_for(monkeypatch, tmp_path):
    monkeypatch.delenv("DSGYM_LLM_CACHE_DIR", raising=False)
    monkeypatch.setenv("DSGYM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    with FakeOpenAI() as fake:
        client = LLMClient("fake-model", base_url=fake.base_url, backoff=0)
        first, again = client.chat("where am I cached?"), client.chat("where am I cached?")
        assert client.cache_dir is None and not first.cached and not again.cached and fake.calls == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written anywhere

        monkeypatch.setenv("DSGYM_LLM_CACHE_DIR", "shared")  # opt in to the shared default
        assert shared_cache_dir() == tmp_path / "cache" / "llm"
        reply = LLMClient("fake-model", base_url=fake.base_url, backoff=0).chat("where am I cached?")
        assert (tmp_path / "cache" / "llm" / f"{reply.key}.json").is_file()
        assert LLMClient("fake-model", base_url=fake.base_url).chat("where am I cached?").cached
        monkeypatch.setenv("DSGYM_LLM_CACHE_DIR", str(tmp_path / "mine"))
        LLMClient("fake-model", base_url=fake.base_url).chat("where am I cached?")
        assert (tmp_path / "mine" / f"{reply.key}.json").is_file()


def test_the_shared_default_follows_the_platform_user_cache(monkeypatch):
    import platformdirs

    monkeypatch.delenv("DSGYM_CACHE_DIR", raising=False)
    assert shared_cache_dir() == Path(platformdirs.user_cache_dir("dsgym", appauthor=False)) / "llm"


def test_fake_server_lists_models_and_rejects_what_a_real_one_would(fake):
    import openai

    client = openai.OpenAI(base_url=fake.base_url, api_key="k", max_retries=0)
    assert [m.id for m in client.models.list()] == ["fake-model"]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake-model", messages=[])
    with FakeOpenAI(replies=["only one"]) as scripted:
        scripted_client = openai.OpenAI(base_url=scripted.base_url, api_key="k", max_retries=0)
        ask = dict(model="m", messages=HELLO)
        assert scripted_client.chat.completions.create(**ask).choices[0].message.content == "only one"
        with pytest.raises(openai.BadRequestError, match="no scripted reply left"):
            scripted_client.chat.completions.create(**ask)


def test_different_prompts_run_in_parallel(tmp_path):
    together = threading.Barrier(4, timeout=10)

    def reply(request):
        together.wait()  # breaks (and the call fails) unless 4 requests are in flight at once
        return "ok"

    with FakeOpenAI(replies=reply) as fake:
        client = make_client(fake, tmp_path, max_retries=0)
        replies = []
        threads = [threading.Thread(target=lambda i=i: replies.append(client.chat(f"prompt {i}").text))
                   for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert replies == ["ok"] * 4 and fake.calls == 4
        assert client._key_locks == {}  # per-key locks are released


def test_a_reply_that_is_not_json_is_an_llm_error(tmp_path):
    import http.server
    import threading

    from dsgym.llm import LLMClient, LLMError

    class NotJson(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"<html>proxy error</html>"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotJson)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = LLMClient("m", base_url=f"http://127.0.0.1:{server.server_port}/v1", cache_dir=tmp_path)
        with pytest.raises(LLMError):
            client.chat([{"role": "user", "content": "hi"}])
    finally:
        server.shutdown()
