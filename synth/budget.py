"""Spending limits of one ``dsgym synth`` invocation: model calls and sandbox seconds.

Model calls are counted where they are made (``BudgetedClient``: replies served
from the disk cache are free) and refused once the limit is reached, so the limit
is never exceeded.  Sandbox seconds are counted as work finishes; once spent, no
new sandbox work starts and work in flight is stopped (a rerun redoes it, mostly
from the cache).  Both limits are per invocation: a rerun continues where the
last one stopped.
"""

from __future__ import annotations

import threading
from typing import Any

from dsgym.llm import LLMClient, LLMError


class BudgetExhausted(LLMError):
    """The invocation's model-call budget is spent; the request was not sent."""

    @property
    def retryable(self) -> bool:
        return False


class Budget:
    def __init__(self, max_model_calls: int | None = None, max_sandbox_seconds: float | None = None) -> None:
        if (max_model_calls is not None and max_model_calls < 0) or (
                max_sandbox_seconds is not None and max_sandbox_seconds < 0):
            raise ValueError("budgets must be >= 0")
        self.max_model_calls = max_model_calls
        self.max_sandbox_seconds = max_sandbox_seconds
        self.model_calls = 0
        self.sandbox_seconds = 0.0
        self._lock = threading.Lock()

    def take_call(self) -> None:
        with self._lock:
            if self.max_model_calls is not None and self.model_calls >= self.max_model_calls:
                raise BudgetExhausted(f"the model-call budget ({self.max_model_calls}) of this run is spent")
            self.model_calls += 1

    def add_sandbox(self, seconds: float) -> None:
        with self._lock:
            self.sandbox_seconds += max(0.0, seconds)

    @property
    def calls_left(self) -> bool:
        return self.max_model_calls is None or self.model_calls < self.max_model_calls

    @property
    def sandbox_left(self) -> bool:
        return self.max_sandbox_seconds is None or self.sandbox_seconds < self.max_sandbox_seconds

    def spent(self) -> str | None:
        """Which budget ran out, if any."""
        if not self.calls_left:
            return f"model calls ({self.max_model_calls})"
        if not self.sandbox_left:
            return f"sandbox time ({self.max_sandbox_seconds:g} s)"
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"max_model_calls": self.max_model_calls, "model_calls": self.model_calls,
                "max_sandbox_seconds": self.max_sandbox_seconds, "sandbox_seconds": round(self.sandbox_seconds, 1)}


class BudgetedClient(LLMClient):
    """An ``LLMClient`` whose requests (not cache hits) draw on a shared ``Budget``."""

    def __init__(self, *args: Any, budget: Budget, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = budget

    def _request(self, messages: list[dict[str, Any]], params: dict[str, Any], timeout: float,
                 key: str) -> Any:
        self.budget.take_call()
        return super()._request(messages, params, timeout, key)
