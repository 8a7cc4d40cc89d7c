"""OpenAI-compatible chat/completions client: retries with back-off, a concurrency limit, a disk cache.

Only the standard library is used (``urllib``). Responses are cached under
``{cache_dir}/{key[:2]}/{key}.json`` with ``key = sha256(model, prompt, params)``, so a rerun sends
nothing. The cache holds answers, never prompts.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.client
import json
import logging
import os
import random
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pvigroup.errors import PvigroupError
from pvigroup.llm.spec import LLMSpec

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))


@dataclass
class APIStats:
    """Counters of one client: requests sent, cache hits, retries (thread-safe)."""

    requests: int = 0
    cache_hits: int = 0
    retries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for key, value in counts.items():
                setattr(self, key, getattr(self, key) + value)

    def as_dict(self) -> dict[str, int]:
        return {"requests": self.requests, "cache_hits": self.cache_hits, "retries": self.retries}


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff_seconds(
    attempt: int, base: float, cap: float, retry_after: float | None, jitter: float
) -> float:
    """Wait before retry ``attempt`` (0-based): ``Retry-After`` when given, else ``base * 2**attempt``.

    ``jitter`` in [0, 1) scales the exponential wait by up to +25%; the result is capped at ``cap``.
    """
    if retry_after is not None:
        return min(retry_after, cap)
    return min(base * (2**attempt) * (1 + 0.25 * jitter), cap)


class ChatClient:
    """Send prompts to an OpenAI-compatible server.

    Parameters
    ----------
    spec
        The LLM entry: ``base_url``, ``model``, ``endpoint`` (``chat`` or ``completions``),
        ``api_key_env``, ``system_prompt``, ``temperature``, ``max_new_tokens``, ``concurrency``,
        ``max_retries``, ``backoff_s``, ``max_backoff_s``, ``timeout_s``, ``cache_dir``.
    sleep
        Called with the seconds to wait before a retry (tests pass a recorder).
    """

    def __init__(self, spec: LLMSpec, sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec = spec
        self.sleep = sleep
        self.stats = APIStats()
        self.cache_dir = Path(spec.cache_dir) / spec.name
        self._key = self._api_key()
        self._rng = random.Random(0)

    def _api_key(self) -> str | None:
        env = self.spec.api_key_env
        if not env:
            return None
        key = os.environ.get(env)
        if not key:
            raise PvigroupError(
                f"llm {self.spec.name}: the environment variable {env} (llm.models.{self.spec.name}"
                ".api_key_env) is not set"
            )
        return key

    # -- request bodies ------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """Generation parameters that, with model and prompt, define a response (cache key)."""
        return {
            "endpoint": self.spec.endpoint,
            "temperature": self.spec.temperature,
            "max_tokens": self.spec.max_new_tokens,
            "system_prompt": self.spec.system_prompt,
        }

    def body(self, prompt: str) -> dict[str, Any]:
        """The JSON body sent for ``prompt``."""
        body: dict[str, Any] = {
            "model": self.spec.model,
            "temperature": self.spec.temperature,
            "max_tokens": self.spec.max_new_tokens,
        }
        if self.spec.endpoint == "chat":
            messages = []
            if self.spec.system_prompt:
                messages.append({"role": "system", "content": self.spec.system_prompt})
            messages.append({"role": "user", "content": prompt})
            body["messages"] = messages
        else:
            body["prompt"] = prompt
        return body

    def url(self) -> str:
        path = "chat/completions" if self.spec.endpoint == "chat" else "completions"
        return self.spec.base_url.rstrip("/") + "/" + path

    def cache_key(self, prompt: str) -> str:
        """sha256 of (model, prompt, params)."""
        payload = json.dumps(
            {"model": self.spec.model, "prompt": prompt, "params": self.params()}, sort_keys=True
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    # -- cache ---------------------------------------------------------------------------------
    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cache_get(self, key: str) -> str | None:
        path = self._cache_path(key)
        try:
            return json.loads(path.read_text())["answer"]
        except (FileNotFoundError, KeyError, json.JSONDecodeError):
            return None

    def _cache_put(self, key: str, answer: str) -> None:
        path = self._cache_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"key": key, "model": self.spec.model, "params": self.params(), "answer": answer}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh)
        os.replace(tmp, path)

    # -- requests ------------------------------------------------------------------------------
    def complete(self, prompts: Sequence[str]) -> list[str]:
        """Answers to ``prompts`` in order, at most ``concurrency`` requests in flight."""
        if not prompts:
            return []
        with ThreadPoolExecutor(max_workers=self.spec.concurrency) as pool:
            return list(pool.map(self.complete_one, prompts))

    def complete_one(self, prompt: str) -> str:
        """One answer: from the cache, else from the server (then cached)."""
        key = self.cache_key(prompt)
        cached = self._cache_get(key)
        if cached is not None:
            self.stats.add(cache_hits=1)
            return cached
        answer = self._request(self.body(prompt), key)
        self._cache_put(key, answer)
        return answer

    def _request(self, body: dict[str, Any], key: str) -> str:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        url = self.url()
        for attempt in range(self.spec.max_retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            self.stats.add(requests=1)
            retry_after = None
            try:
                with urllib.request.urlopen(req, timeout=self.spec.timeout_s) as resp:
                    return self._parse(json.loads(resp.read().decode("utf-8")), key)
            except urllib.error.HTTPError as err:
                detail = _error_detail(err)
                if err.code not in RETRY_STATUS:
                    raise PvigroupError(
                        f"llm {self.spec.name}: {url} answered HTTP {err.code} ({detail}); request {key[:12]}"
                    ) from None
                retry_after = retry_after_seconds(
                    err.headers.get("Retry-After") if err.headers else None
                )
                why = f"HTTP {err.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                why = _one_line(f"{type(err).__name__}: {getattr(err, 'reason', err)}")
            except http.client.HTTPException as err:
                # a response cut off mid-body (IncompleteRead) or a malformed status line or
                # header: a transient transport failure, retried like a timeout
                text = str(err)
                name = type(err).__name__
                why = _one_line(text if text.startswith(name) else f"{name}: {text}")
            except json.JSONDecodeError:
                why = "a response that is not JSON"
            except UnicodeDecodeError as err:
                # a body garbled on the way (a proxy's error page in another encoding, a cut
                # multi-byte character): retried like one that is not JSON
                why = f"a response that is not UTF-8 (byte {err.start}: {err.object[err.start:err.start + 1]!r})"
            if attempt == self.spec.max_retries:
                raise PvigroupError(
                    f"llm {self.spec.name}: {url} failed {attempt + 1} times (last: {why}); "
                    f"request {key[:12]}; raise max_retries or try later"
                )
            wait = backoff_seconds(
                attempt,
                self.spec.backoff_s,
                self.spec.max_backoff_s,
                retry_after,
                self._rng.random(),
            )
            log.warning(
                "llm %s: request %s got %s; retry %d in %.2f s",
                self.spec.name,
                key[:12],
                why,
                attempt + 1,
                wait,
            )
            self.stats.add(retries=1)
            self.sleep(wait)
        raise AssertionError("unreachable")

    def _parse(self, payload: dict[str, Any], key: str) -> str:
        try:
            choice = payload["choices"][0]
            if self.spec.endpoint == "chat":
                content = choice["message"].get("content")
            else:
                content = choice["text"]
        except (KeyError, IndexError, TypeError, AttributeError):
            raise PvigroupError(
                f"llm {self.spec.name}: the response to request {key[:12]} has no choices[0] "
                f"{'message.content' if self.spec.endpoint == 'chat' else 'text'}"
            ) from None
        return "" if content is None else str(content)


def _one_line(text: str, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters (a server may send anything)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _error_detail(err: urllib.error.HTTPError) -> str:
    try:
        text = err.read().decode("utf-8", "replace")
        msg = json.loads(text).get("error", {})
        return str(msg.get("message", msg))[:200] if isinstance(msg, dict) else str(msg)[:200]
    except Exception:  # noqa: BLE001 - the detail is best-effort only
        return err.reason if isinstance(err.reason, str) else "no detail"
