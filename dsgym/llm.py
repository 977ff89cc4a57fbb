"""One client for every OpenAI-compatible chat endpoint dsgym talks to (agents, the filter, the judge).

    client = LLMClient("gpt-4o-mini", base_url="http://localhost:8000/v1")
    reply = client.chat([{"role": "user", "content": "2+2?"}])
    reply.text, reply.usage.total_tokens, reply.cached

* Retries: rate limits (429), server errors (5xx), 408/409 and connection errors or
  timeouts are retried ``max_retries`` times with exponential backoff (a server's
  ``Retry-After`` wins when it is given); anything else raises ``LLMError`` at once.
* Disk cache: one JSON file per request under ``cache_dir``, named by a SHA-256
  of the endpoint, the model, the messages and every sampling parameter.  Files
  are written to a temp file and renamed, so a crash never leaves half an entry,
  and concurrent identical requests in one process wait for each other instead
  of asking twice.  ``cache=False`` (per client or per call) turns it off.
  There is no cache unless one is asked for: ``dsgym eval``, ``filter`` and
  ``synth`` pass their output folder's ``llm-cache/``, so a rerun replays exactly
  what that run saw and a new run never sees another run's replies.  A cache
  shared across runs is opt-in: ``cache_dir`` (``--llm-cache DIR``) or
  ``$DSGYM_LLM_CACHE_DIR``; the word ``shared`` names ``shared_cache_dir()``.
* Sampling: at temperature > 0 the same prompt is still one cache entry; ask for
  distinct samples with ``sample_index=i`` (a cache-key component only) or
  ``samples(messages, k)``, or get ``n`` choices in one request with ``n=k``.
* Thread-safe: one client may be shared by many threads.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai

CACHE_FORMAT = 1
LOCAL_API_KEY = "not-needed"  # local OpenAI-compatible servers ignore the key, but the client wants one
RETRYABLE_STATUS = {408, 409, 429}


class LLMError(RuntimeError):
    """A chat request failed for good (after retries, or at once for a non-retryable error)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts

    @property
    def retryable(self) -> bool:
        """Whether trying again later may help: connection failures, 5xx, 408/409/429."""
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_STATUS


@dataclass(frozen=True)
class Usage:
    """Token counts as the API's ``usage`` field reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens,
                     self.total_tokens + other.total_tokens)

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "total_tokens": self.total_tokens}


@dataclass(frozen=True)
class Completion:
    """A chat reply.  ``text`` is the first choice; ``texts`` holds all ``n`` of them.

    On a cache hit ``usage`` is what the original request cost and ``cached`` is True,
    so callers that count spend should count only ``not cached`` completions.
    """

    text: str
    texts: tuple[str, ...]
    usage: Usage
    cached: bool
    model: str
    finish_reason: str | None = None
    finish_reasons: tuple[str | None, ...] = ()
    id: str | None = None
    key: str = ""
    attempts: int = 1


@dataclass
class ClientStats:
    """What a client did so far: only requests that reached the API count toward ``usage``."""

    api_calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    usage: Usage = field(default_factory=Usage)


RUN_CACHE = "llm-cache"  # the folder inside a run (or filter / synth output) folder that caches its replies
SHARED = "shared"  # as a cache folder: ``shared_cache_dir()``
CACHE_ENV = "DSGYM_LLM_CACHE_DIR"


def shared_cache_dir() -> Path:
    """The default folder of a cache shared across runs: ``$DSGYM_CACHE_DIR/llm``, else the user cache dir's."""
    import platformdirs  # lazy: keeps `import dsgym.llm` light

    root = os.environ.get("DSGYM_CACHE_DIR") or platformdirs.user_cache_dir("dsgym", appauthor=False)
    return Path(root) / "llm"


def cache_location(value: str | os.PathLike[str] | None) -> Path | None:
    """A cache folder as the user named it (``shared`` is ``shared_cache_dir()``); None stays None."""
    if value is None or str(value) == "":
        return None
    return shared_cache_dir() if str(value) == SHARED else Path(value).expanduser()


_RUN_CACHE: ContextVar[Path | None] = ContextVar("dsgym_llm_run_cache", default=None)


@contextmanager
def caching_in(directory: str | os.PathLike[str] | None) -> Iterator[None]:
    """Clients made in this block (in this thread) without a ``cache_dir`` cache in ``directory``.

    The runner wraps each episode in it, so the agent's replies and the judge's verdicts
    land in the run's own cache without every agent having to be told.
    """
    token = _RUN_CACHE.set(cache_location(directory))
    try:
        yield
    finally:
        _RUN_CACHE.reset(token)


def chosen_cache_dir(given: str | os.PathLike[str] | None = None) -> Path | None:
    """Where a client caches: ``given``, else the episode's run cache (``caching_in``), else
    ``$DSGYM_LLM_CACHE_DIR`` (a cache shared on purpose), else nowhere (None)."""
    return cache_location(given) or _RUN_CACHE.get() or cache_location(os.environ.get(CACHE_ENV))


def normalize_messages(messages: str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A plain string is one user message; otherwise a list of ``{"role", "content"}`` dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    if not isinstance(messages, Sequence) or not messages:
        raise TypeError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts (or a string)")
    out = []
    for message in messages:
        if not isinstance(message, Mapping) or "role" not in message:
            raise TypeError(f"each message needs a 'role' (and usually 'content'): {message!r}")
        out.append(dict(message))
    return out


class LLMClient:
    """An OpenAI-compatible chat client with retries, a disk cache and token accounting.

    ``api_key`` defaults to ``$OPENAI_API_KEY`` (or a placeholder, for local servers);
    ``base_url`` to ``$OPENAI_BASE_URL`` or OpenAI's.  Extra keyword arguments are
    default request parameters (``top_p``, ``seed``, ``stop``, ``response_format``, ...).
    """

    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, *,
                 temperature: float = 0.0, max_tokens: int | None = None,
                 cache_dir: str | os.PathLike[str] | None = None, cache: bool = True,
                 max_retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 timeout: float = 120.0, **defaults: Any) -> None:
        if not model or not isinstance(model, str):
            raise ValueError("LLMClient needs a model name")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        self._api_key = api_key or os.environ.get("OPENAI_API_KEY") or LOCAL_API_KEY
        self.defaults: dict[str, Any] = {"temperature": temperature, **defaults}
        if max_tokens is not None:
            self.defaults["max_tokens"] = max_tokens
        self.cache_enabled = cache
        self.cache_dir = chosen_cache_dir(cache_dir)  # None: no disk cache
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.stats = ClientStats()
        self._lock = threading.Lock()
        self._key_locks: dict[str, tuple[threading.Lock, int]] = {}  # key -> (lock, users)
        self._client: openai.OpenAI | None = None

    def __repr__(self) -> str:
        return f"LLMClient(model={self.model!r}, base_url={self.base_url!r})"

    # ----- public API ------------------------------------------------------------------------
    def chat(self, messages: str | Sequence[Mapping[str, Any]], **overrides: Any) -> Completion:
        """Ask the model; ``overrides`` replace the client's defaults for this call.

        Special keys: ``sample_index`` (which of k samples: part of the cache key, not
        sent), ``cache`` (False skips the cache for this call), ``timeout`` (seconds).
        """
        messages = normalize_messages(messages)
        use_cache = bool(overrides.pop("cache", self.cache_enabled)) and self.cache_dir is not None
        timeout = overrides.pop("timeout", self.timeout)
        sample_index = overrides.pop("sample_index", None)
        params = {k: v for k, v in {**self.defaults, **overrides}.items() if v is not None}
        key = self.cache_key(messages, params, sample_index)
        if not use_cache:
            return self._request(messages, params, timeout, key)
        with self._in_flight(key):
            hit = self._read_cache(key)
            if hit is not None:
                with self._lock:
                    self.stats.cache_hits += 1
                return hit
            completion = self._request(messages, params, timeout, key)
            try:
                self._write_cache(key, messages, params, sample_index, completion)
            except OSError as exc:  # a full or read-only disk must not waste a paid reply
                warnings.warn(f"dsgym.llm: could not cache a reply in {self.cache_dir}: {exc}", stacklevel=2)
            return completion

    def samples(self, messages: str | Sequence[Mapping[str, Any]], k: int, **overrides: Any) -> list[Completion]:
        """``k`` independent samples of the same prompt, each cached on its own (``sample_index`` 0..k-1)."""
        return [self.chat(messages, sample_index=i, **overrides) for i in range(k)]

    def cache_key(self, messages: list[dict[str, Any]], params: Mapping[str, Any], sample_index: Any = None) -> str:
        material = {"format": CACHE_FORMAT, "base_url": self.base_url, "model": self.model,
                    "messages": messages, "params": dict(params), "sample_index": sample_index}
        blob = json.dumps(material, sort_keys=True, ensure_ascii=False, default=repr)
        return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()

    @contextmanager
    def _in_flight(self, key: str) -> Iterator[None]:
        """Hold the lock of one cache key: a second identical request waits, then hits the cache."""
        with self._lock:
            lock, users = self._key_locks.get(key, (threading.Lock(), 0))
            self._key_locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._key_locks[key]
                if users == 1:
                    del self._key_locks[key]
                else:
                    self._key_locks[key] = (lock, users - 1)

    def check_reachable(self, timeout: float = 10.0) -> None:
        """Raise ``LLMError`` now if the endpoint cannot be reached or refuses the key (one ``GET /models``).

        Any other HTTP answer (a server without ``/models``, say) counts as reachable.
        """
        try:
            self._openai().models.with_raw_response.list(timeout=timeout)
        except openai.APIConnectionError as exc:
            raise LLMError(f"the model endpoint {self.base_url} is unreachable ({type(exc).__name__}: {exc}); "
                           "is the server running, and is --base-url right?") from exc
        except openai.AuthenticationError as exc:
            raise LLMError(f"the model endpoint {self.base_url} refused the API key (HTTP 401); pass "
                           "--api-key or set DSGYM_API_KEY or OPENAI_API_KEY", status=401) from exc
        except openai.APIStatusError:
            pass

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- the request and its retries -------------------------------------------------------
    def _openai(self) -> openai.OpenAI:
        with self._lock:
            if self._client is None:
                # Retries are ours (below), so they are counted and their backoff is configurable.
                self._client = openai.OpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0,
                                             timeout=self.timeout)
            return self._client

    def _request(self, messages: list[dict[str, Any]], params: dict[str, Any], timeout: float,
                 key: str) -> Completion:
        client = self._openai()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = client.chat.completions.create(model=self.model, messages=messages, timeout=timeout,
                                                          **params)
                break
            except (openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                retryable = status is None or status >= 500 or status in RETRYABLE_STATUS
                if not retryable or attempt > self.max_retries:
                    what = f"HTTP {status}" if status is not None else type(exc).__name__
                    tail = f" after {attempt} attempts" if attempt > 1 else ""
                    raise LLMError(f"chat request to {self.base_url} ({self.model}) failed{tail}: {what}: {exc}",
                                   status=status, attempts=attempt) from exc
                with self._lock:
                    self.stats.retries += 1
                time.sleep(self._delay(attempt, exc))
            except (openai.OpenAIError, ValueError) as exc:  # e.g. a 200 whose body is not JSON: not retried
                raise LLMError(f"chat request to {self.base_url} ({self.model}) failed: {type(exc).__name__}: {exc}",
                               attempts=attempt) from exc
        choices = sorted(response.choices or [], key=lambda c: c.index)
        texts = tuple((c.message.content or "") if c.message is not None else "" for c in choices)
        reasons = tuple(c.finish_reason for c in choices)
        raw = response.usage
        usage = Usage(int(getattr(raw, "prompt_tokens", 0) or 0), int(getattr(raw, "completion_tokens", 0) or 0),
                      int(getattr(raw, "total_tokens", 0) or 0)) if raw is not None else Usage()
        with self._lock:
            self.stats.api_calls += 1
            self.stats.usage = self.stats.usage + usage
        return Completion(text=texts[0] if texts else "", texts=texts, usage=usage, cached=False,
                          model=response.model or self.model, finish_reason=reasons[0] if reasons else None,
                          finish_reasons=reasons, id=response.id, key=key, attempts=attempt)

    def _delay(self, attempt: int, exc: Exception) -> float:
        response = getattr(exc, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after is not None:
            try:
                return min(max(float(retry_after), 0.0), max(self.max_backoff, 60.0))
            except ValueError:
                pass  # an HTTP date: fall back to our own backoff
        base = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        return base * (0.5 + random.random() / 2)

    # ----- the disk cache --------------------------------------------------------------------
    def _cache_path(self, key: str) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"{key}.json"

    def _read_cache(self, key: str) -> Completion | None:
        try:
            entry = json.loads(self._cache_path(key).read_text(encoding="utf-8"))
            reply = entry["response"]
            texts = tuple(str(t) for t in reply["texts"])
            reasons = tuple(reply.get("finish_reasons") or ())
            return Completion(text=texts[0] if texts else "", texts=texts, usage=Usage(**reply["usage"]),
                              cached=True, model=reply.get("model", self.model),
                              finish_reason=reasons[0] if reasons else None, finish_reasons=reasons,
                              id=reply.get("id"), key=key, attempts=0)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is a miss; the fresh reply overwrites it

    def _write_cache(self, key: str, messages: list[dict[str, Any]], params: dict[str, Any], sample_index: Any,
                     completion: Completion) -> None:
        entry = {
            "format": CACHE_FORMAT, "created": time.time(),
            "request": {"base_url": self.base_url, "model": self.model, "messages": messages, "params": params,
                        "sample_index": sample_index},
            "response": {"texts": list(completion.texts), "finish_reasons": list(completion.finish_reasons),
                         "usage": completion.usage.to_dict(), "model": completion.model, "id": completion.id},
        }
        directory = self._cache_path(key).parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{key[:16]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, ensure_ascii=False, default=repr)
            os.replace(tmp, self._cache_path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


__all__ = ["CACHE_ENV", "RUN_CACHE", "ClientStats", "Completion", "LLMClient", "LLMError", "Usage", "cache_location",
           "caching_in", "chosen_cache_dir", "normalize_messages", "shared_cache_dir"]
