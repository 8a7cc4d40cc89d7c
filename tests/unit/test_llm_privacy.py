"""Privacy guard and the workflow's LLM job list (pure functions)."""

import pytest

from pvigroup.errors import PvigroupError
from pvigroup.llm.spec import (
    LLMSpec,
    api_key_envvars,
    check_privacy,
    is_loopback_url,
    llm_jobs,
    llm_targets,
    needs_gpu,
    refuse_private,
    targets_function,
    task_flags,
)

TASKS = {
    "cb": {"domain": "general"},
    "thyme": {"domain": "clinical", "private": True},
    "causal": {"domain": "biomedical", "private": False},
}
LOCAL = {"pretrained": "some/dir"}
GPT = {"backend": "openai", "model": "gpt-4", "base_url": "https://api.example.com/v1"}


def config(models):
    return {"tasks": TASKS, "llm": {"models": models}}


def test_private_task_listed_for_an_api_backend_is_refused_naming_task_and_backend():
    with pytest.raises(PvigroupError) as err:
        check_privacy(TASKS, {"gpt4": {**GPT, "tasks": ["cb", "thyme"]}})
    msg = str(err.value)
    assert "thyme" in msg and "private" in msg and "api.example.com" in msg and "gpt4" in msg


def test_whole_llm_section_is_accepted_too():
    with pytest.raises(PvigroupError, match="thyme"):
        check_privacy(TASKS, {"models": {"gpt4": {**GPT, "tasks": ["thyme"]}}})


def test_local_models_may_see_private_tasks():
    check_privacy(TASKS, {"llama": {**LOCAL, "tasks": ["thyme", "cb"]}})
    check_privacy(TASKS, {"gpt4": {**GPT, "tasks": ["cb", "causal"]}})


def test_unknown_task_is_refused():
    with pytest.raises(PvigroupError, match=r"llm\.models\.llama\.tasks: unknown task 'nope'"):
        check_privacy(TASKS, {"llama": {**LOCAL, "tasks": ["nope"]}})


def test_allow_private_only_for_a_loopback_server():
    lo = {**GPT, "base_url": "http://127.0.0.1:8000/v1", "allow_private": True}
    check_privacy(TASKS, {"vllm": {**lo, "tasks": ["thyme"]}})
    with pytest.raises(PvigroupError, match="allow_private"):
        check_privacy(TASKS, {"gpt4": {**GPT, "allow_private": True}})
    # without the opt-in even a loopback server gets no private task
    with pytest.raises(PvigroupError, match="thyme"):
        check_privacy(TASKS, {"vllm": {**lo, "allow_private": False, "tasks": ["thyme"]}})


@pytest.mark.parametrize(
    ("url", "loop"),
    [
        ("http://localhost:1/v1", True),
        ("http://127.0.0.1/v1", True),
        ("http://127.9.9.9/v1", True),
        ("http://[::1]:80/v1", True),
        ("https://api.openai.com/v1", False),
        ("http://10.0.0.5/v1", False),
        ("http://localhost.evil.com/v1", False),
    ],
)
def test_loopback_urls(url, loop):
    assert is_loopback_url(url) is loop


def test_jobs_skip_private_tasks_for_api_backends_when_tasks_is_null():
    jobs = llm_jobs(config({"llama": LOCAL, "gpt4": GPT}))
    assert ("llama", "thyme") in jobs and ("gpt4", "thyme") not in jobs
    assert sorted(t for m, t in jobs if m == "gpt4") == ["causal", "cb"]
    assert llm_jobs(config({"llama": {**LOCAL, "tasks": ["cb"]}})) == [("llama", "cb")]


def test_targets():
    assert llm_targets(config({})) == []
    assert targets_function(config({}))(None) == []
    out = llm_targets(config({"llama": {**LOCAL, "tasks": ["cb"]}}))
    assert out == [
        "results/llm/llama/cb/predictions.parquet",
        "results/llm/llama/cb/metrics.json",
        "results/llm/table07.tsv",
        "results/llm/table08.tsv",
    ]


def test_job_time_guard_refuses_before_anything_is_sent():
    spec = LLMSpec.from_config("gpt4", GPT)
    with pytest.raises(PvigroupError, match="nothing was sent"):
        refuse_private("thyme", True, spec)
    refuse_private("cb", False, spec)
    refuse_private("thyme", True, LLMSpec.from_config("llama", LOCAL))


def test_spec_checks_and_helpers():
    with pytest.raises(PvigroupError, match="needs `pretrained`"):
        LLMSpec.from_config("x", {})
    with pytest.raises(PvigroupError, match="needs `model`"):
        LLMSpec.from_config("x", {"backend": "openai"})
    with pytest.raises(PvigroupError, match="unknown key"):
        LLMSpec.from_config("x", {**LOCAL, "temprature": 0})
    assert LLMSpec.from_config("g", GPT).mode == "generate"
    assert api_key_envvars(config({"gpt4": GPT, "llama": LOCAL})) == ["OPENAI_API_KEY"]
    assert api_key_envvars(config({"gpt4": {**GPT, "api_key_env": None}})) == []
    assert needs_gpu(LOCAL) == 1 and needs_gpu({**LOCAL, "device": "cpu"}) == 0
    assert needs_gpu(GPT) == 0
    assert task_flags(TASKS)["thyme"] == {"domain": "clinical", "private": True}
    assert task_flags(TASKS)["cb"] == {"domain": "general", "private": False}
