"""The OpenAI-compatible backend against a real HTTP server on 127.0.0.1 (chat-completions schema)."""

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from pvigroup.errors import PvigroupError
from pvigroup.io import read_json, write_json, write_parquet
from pvigroup.llm.api import ChatClient, backoff_seconds, retry_after_seconds
from pvigroup.llm.prompts import PromptOptions, TaskPrompt
from pvigroup.llm.run import APIBackend, prompt_llm
from pvigroup.llm.spec import LLMSpec

#: Script entries that are not (status, headers, body): a response that declares Content-Length
#: 94 and closes the connection after 44 bytes, and one that answers after the client's timeout.
CUT_OFF = "cut off mid-body"
#: a 200 whose body is not UTF-8 (Latin-1 text, as a proxy's error page may be)
NOT_UTF8 = "not UTF-8"
LATIN1_BODY = "Passerelle indisponible : réessayez".encode("latin-1")
SLOW = "slower than the timeout"
CUT_BODY = json.dumps({"choices": [{"index": 0, "message": {"content": "1"}}]}).encode().ljust(94)
assert len(CUT_BODY) == 94


class FakeServer:
    """Records every request; answers from a queue of (status, headers, body), ``CUT_OFF`` or
    ``SLOW``, then a default."""

    def __init__(self):
        self.requests = []
        self.script = []
        self.slow_s = 1.0
        self.answer = lambda body: "1"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                body = json.loads(self.rfile.read(length))
                server.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                entry = server.script.pop(0) if server.script else None
                if entry == CUT_OFF:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(CUT_BODY)))
                    self.end_headers()
                    self.wfile.write(CUT_BODY[:44])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if entry == NOT_UTF8:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(LATIN1_BODY)))
                    self.end_headers()
                    self.wfile.write(LATIN1_BODY)
                    return
                if entry == SLOW:
                    time.sleep(server.slow_s)
                    self.close_connection = True
                    return
                if entry is not None:
                    status, headers, payload = entry
                else:
                    content = server.answer(body)
                    if "messages" in body:
                        choice = {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    else:
                        choice = {"index": 0, "text": content, "finish_reason": "stop"}
                    status, headers = 200, {}
                    payload = {"id": "x", "object": "chat.completion", "choices": [choice]}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def api_cfg(server, tmp_path, **extra):
    return {
        "backend": "openai",
        "model": "test-model",
        "base_url": server.url,
        "api_key_env": "PVIGROUP_TEST_KEY",
        "max_new_tokens": 4,
        "backoff_s": 0.0,
        "cache_dir": str(tmp_path / "cache"),
        "concurrency": 2,
        **extra,
    }


def write_task(tmp_path, task="rte", private=False, n_test=6):
    labels = ["entailment", "not_entailment"]
    train = pd.DataFrame(
        {
            "id": [f"{task}:train:{i}" for i in range(6)],
            "text": [f"premise {i}" for i in range(6)],
            "text_pair": [f"hypothesis {i}" for i in range(6)],
            "label": pd.array([i % 2 for i in range(6)], dtype="int64"),
        }
    )
    test = pd.DataFrame(
        {
            "id": [f"{task}:test:{i}" for i in range(n_test)],
            "text": [f"secret premise {i}" for i in range(n_test)],
            "text_pair": [f"secret hypothesis {i}" for i in range(n_test)],
            "label": pd.array([i % 2 for i in range(n_test)], dtype="int64"),
        }
    )
    d = tmp_path / "data" / task
    write_parquet(train, d / "train.parquet", {"task": task, "split": "train"})
    write_parquet(test, d / "test.parquet", {"task": task, "split": "test"})
    write_json(
        {
            "task": task,
            "labels": labels,
            "pair": True,
            "private": private,
            "n": {"train": 6, "dev": 0, "test": n_test},
        },
        d / "task.json",
    )
    return d


def run(tmp_path, d, cfg, llm="api", private=False, sleeps=None, options=None):
    spec = LLMSpec.from_config(llm, cfg)
    backend = None
    if not private:
        backend = APIBackend(spec)
        backend.client.sleep = sleeps.append if sleeps is not None else lambda s: None
    out = tmp_path / "out" / llm
    return prompt_llm(
        train=d / "train.parquet",
        test=d / "test.parquet",
        task_json=d / "task.json",
        llm=llm,
        llm_cfg=cfg,
        options=options or {"seed": 1},
        task_cfg={"domain": "general", "private": private},
        predictions=out / "predictions.parquet",
        metrics=out / "metrics.json",
        backend=backend,
    ), out


def test_requests_retry_after_429_and_cache_hit_on_rerun(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    d = write_task(tmp_path)
    answers = iter(["1", " (0) entailment", "I am not sure", "1", "0", "1"])
    lock = threading.Lock()

    def answer(body):
        with lock:
            return next(answers)

    server.answer = answer
    server.script = [(429, {"Retry-After": "3"}, {"error": {"message": "rate limited"}})]
    sleeps = []
    cfg = api_cfg(server, tmp_path, concurrency=1, system_prompt="Answer with the number.")
    record, out = run(tmp_path, d, cfg, sleeps=sleeps)

    # six prompts, one of them sent twice (429, then success after the server's Retry-After)
    assert len(server.requests) == 7
    assert sleeps == [3.0]
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["headers"]["Authorization"] == "Bearer sk-test"
    body = req["body"]
    assert body["model"] == "test-model" and body["temperature"] == 0 and body["max_tokens"] == 4
    assert body["messages"][0] == {"role": "system", "content": "Answer with the number."}
    # the user message is the paper-format prompt, byte for byte
    tp = TaskPrompt.from_meta(read_json(d / "task.json"), PromptOptions())
    shots = pd.read_parquet(d / "train.parquet").set_index("id").loc[record["shots"]].reset_index()
    expected = tp.build(shots, "secret premise 0", "secret hypothesis 0")
    sent = {r["body"]["messages"][1]["content"] for r in server.requests}
    assert expected in sent and expected.endswith(
        "QUESTION: Is this (0) entailment or (1) not_entailment?\n\nANSWER:"
    )

    preds = pd.read_parquet(out / "predictions.parquet")
    assert list(preds.columns) == [
        "draw",
        "id",
        "prompt_hash",
        "raw_answer",
        "parsed_label",
        "label",
        "correct",
        "logliks",
    ]
    assert list(preds["parsed_label"]) == [1, 0, -1, 1, 0, 1]  # unparseable kept, as -1
    assert record["unparseable"] == 1 and record["n"] == 6
    assert record["accuracy"] == pytest.approx(3 / 6)  # gold 0,1,0,1,0,1
    assert record["api"] == {"requests": 7, "cache_hits": 0, "retries": 1}
    assert read_json(out / "metrics.json")["unparseable"] == 1

    # rerun: everything from the on-disk cache, nothing sent
    record2, out2 = run(tmp_path, d, cfg, llm="api")
    assert len(server.requests) == 7
    assert record2["api"] == {"requests": 0, "cache_hits": 6, "retries": 0}
    assert list(pd.read_parquet(out2 / "predictions.parquet")["raw_answer"]) == list(
        preds["raw_answer"]
    )


def test_private_task_sends_nothing(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    d = write_task(tmp_path, task="thyme", private=True)
    cfg = api_cfg(server, tmp_path)
    with pytest.raises(PvigroupError, match="'thyme' is private"):
        run(tmp_path, d, cfg, private=True)
    assert server.requests == []
    assert not (tmp_path / "out").exists()
    # the task.json flag alone is enough, whatever the config says
    spec = LLMSpec.from_config("api", cfg)
    with pytest.raises(PvigroupError, match="private"):
        prompt_llm(
            train=d / "train.parquet",
            test=d / "test.parquet",
            task_json=d / "task.json",
            llm="api",
            llm_cfg=cfg,
            options={},
            task_cfg={"private": False},
            predictions=tmp_path / "p.parquet",
            metrics=tmp_path / "m.json",
            backend=APIBackend(spec),
        )
    assert server.requests == []


def test_completions_endpoint_and_no_key(server, tmp_path):
    cfg = api_cfg(server, tmp_path, endpoint="completions", api_key_env=None)
    client = ChatClient(LLMSpec.from_config("c", cfg))
    assert client.complete(["ANSWER:"]) == ["1"]
    req = server.requests[0]
    assert req["path"] == "/v1/completions" and req["body"]["prompt"] == "ANSWER:"
    assert "Authorization" not in req["headers"]


def test_client_error_is_not_retried(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    server.script = [(400, {}, {"error": {"message": "bad model"}})]
    client = ChatClient(LLMSpec.from_config("c", api_cfg(server, tmp_path)))
    with pytest.raises(PvigroupError, match=r"HTTP 400 \(bad model\)"):
        client.complete_one("x")
    assert len(server.requests) == 1


def test_retries_run_out_with_exponential_backoff(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    server.script = [(503, {}, {"error": "busy"})] * 3
    sleeps = []
    cfg = api_cfg(server, tmp_path, max_retries=2, backoff_s=0.5, max_backoff_s=10)
    client = ChatClient(LLMSpec.from_config("c", cfg), sleep=sleeps.append)
    with pytest.raises(PvigroupError, match="failed 3 times"):
        client.complete_one("x")
    assert len(server.requests) == 3
    assert 0.5 <= sleeps[0] <= 0.625 and 1.0 <= sleeps[1] <= 1.25


def test_response_cut_off_mid_body_is_retried(server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    server.script = [CUT_OFF, CUT_OFF]
    sleeps = []
    cfg = api_cfg(server, tmp_path, max_retries=2, backoff_s=0.01, max_backoff_s=0.05)
    client = ChatClient(LLMSpec.from_config("c", cfg), sleep=sleeps.append)
    with caplog.at_level("WARNING", logger="pvigroup.llm.api"):
        assert client.complete_one("x") == "1"
    assert len(server.requests) == 3 and len(sleeps) == 2 and client.stats.retries == 2
    assert all(s <= 0.05 for s in sleeps)
    assert "IncompleteRead(44 bytes read, 50 more expected)" in caplog.text
    assert client.complete_one("x") == "1" and len(server.requests) == 3  # cached


def test_cut_off_responses_end_in_the_one_line_error_of_timeouts(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    cfg = api_cfg(server, tmp_path, max_retries=2, backoff_s=0.01, timeout_s=0.2)
    server.script = [CUT_OFF] * 3
    client = ChatClient(LLMSpec.from_config("c", cfg), sleep=lambda s: None)
    with pytest.raises(PvigroupError) as cut:
        client.complete_one("x")
    assert len(server.requests) == 3
    assert not list((tmp_path / "cache").rglob("*.json"))  # nothing cached
    server.slow_s = 0.6
    server.script = [SLOW] * 3
    with pytest.raises(PvigroupError) as slow:
        client.complete_one("y")
    assert len(server.requests) == 6
    pattern = (r"llm c: http://127\.0\.0\.1:\d+/v1/chat/completions failed 3 times "
               r"\(last: (?P<why>[^\n]+)\); request [0-9a-f]{12}; raise max_retries or try later")
    m_cut = re.fullmatch(pattern, str(cut.value))
    m_slow = re.fullmatch(pattern, str(slow.value))
    assert m_cut and m_slow, (str(cut.value), str(slow.value))
    assert m_cut["why"] == "IncompleteRead(44 bytes read, 50 more expected)"
    assert "timed out" in m_slow["why"]


def test_missing_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("PVIGROUP_TEST_KEY", raising=False)
    cfg = {"backend": "openai", "model": "m", "api_key_env": "PVIGROUP_TEST_KEY"}
    with pytest.raises(PvigroupError, match="PVIGROUP_TEST_KEY"):
        ChatClient(LLMSpec.from_config("c", cfg))


def test_retry_after_and_backoff():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after_seconds("7") == 7.0
    assert (
        retry_after_seconds(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    )
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
    assert backoff_seconds(3, 1.0, 60.0, None, 0.0) == 8.0
    assert backoff_seconds(10, 1.0, 60.0, None, 0.5) == 60.0
    assert backoff_seconds(0, 1.0, 60.0, 5.0, 0.9) == 5.0
    assert backoff_seconds(0, 1.0, 60.0, 500.0, 0.9) == 60.0


def test_cache_key_depends_on_model_prompt_and_params(tmp_path):
    base = {"backend": "openai", "model": "m", "api_key_env": None, "cache_dir": str(tmp_path)}
    a = ChatClient(LLMSpec.from_config("c", base))
    assert a.cache_key("p") == ChatClient(LLMSpec.from_config("d", base)).cache_key("p")
    assert a.cache_key("p") != a.cache_key("q")
    assert a.cache_key("p") != ChatClient(
        LLMSpec.from_config("c", {**base, "model": "n"})
    ).cache_key("p")
    assert a.cache_key("p") != ChatClient(
        LLMSpec.from_config("c", {**base, "temperature": 1})
    ).cache_key("p")


def test_a_body_that_is_not_utf8_is_retried_then_ends_in_the_one_line_error(server, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("PVIGROUP_TEST_KEY", "sk-test")
    cfg = api_cfg(server, tmp_path, max_retries=2, backoff_s=0.01, max_backoff_s=0.05)
    client = ChatClient(LLMSpec.from_config("c", cfg), sleep=lambda s: None)
    server.script = [NOT_UTF8]
    assert client.complete_one("x") == "1" and client.stats.retries == 1
    server.script = [NOT_UTF8] * 3
    with pytest.raises(PvigroupError) as err:
        client.complete_one("y")
    assert len(server.requests) == 5
    assert re.fullmatch(r"llm c: http://127\.0\.0\.1:\d+/v1/chat/completions failed 3 times "
                        r"\(last: a response that is not UTF-8 \(byte 27: b'\\xe9'\)\); "
                        r"request [0-9a-f]{12}; raise max_retries or try later", str(err.value)), \
        str(err.value)
