"""LLM specs from the config, the privacy guard, and the workflow's LLM targets (all pure)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

from pvigroup.errors import PvigroupError

log = logging.getLogger(__name__)

BACKENDS = ("local", "openai")
LOCAL_BACKENDS = frozenset({"local"})


@dataclass(frozen=True)
class LLMSpec:
    """One entry of ``llm.models``; fields and defaults mirror the config schema's ``llm_model``."""

    name: str
    backend: str = "local"
    tasks: tuple[str, ...] | None = None
    display_name: str | None = None
    max_prompt_tokens: int | None = None
    max_chars_per_text: int | None = None
    # local backend
    pretrained: str | None = None
    gguf_file: str | None = None
    gguf_cache: bool = True
    scoring: str = "loglik"
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 8
    prefix_cache: bool = True
    max_new_tokens: int = 5
    # OpenAI-compatible backend
    model: str | None = None
    base_url: str = "https://api.openai.com/v1"
    endpoint: str = "chat"
    api_key_env: str | None = "OPENAI_API_KEY"
    system_prompt: str | None = None
    temperature: float = 0.0
    concurrency: int = 4
    max_retries: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    timeout_s: float = 60.0
    cache_dir: str = "resources/llm_cache"
    allow_private: bool = False

    @classmethod
    def from_config(cls, name: str, cfg: Mapping[str, Any]) -> LLMSpec:
        """Build from ``llm.models.<name>``; unknown keys and missing required ones raise."""
        known = set(cls.__dataclass_fields__) - {"name"}
        unknown = set(cfg) - known
        if unknown:
            raise PvigroupError(f"config llm.models.{name}: unknown key(s) {sorted(unknown)}")
        values = dict(cfg)
        if values.get("tasks") is not None:
            values["tasks"] = tuple(values["tasks"])
        spec = cls(name=name, **values)
        if spec.backend not in BACKENDS:
            raise PvigroupError(
                f"config llm.models.{name}.backend: {spec.backend!r} is not one of {BACKENDS}"
            )
        if spec.backend == "local" and not spec.pretrained:
            raise PvigroupError(f"config llm.models.{name}: a local LLM needs `pretrained`")
        if spec.backend == "openai" and not spec.model:
            raise PvigroupError(f"config llm.models.{name}: an API LLM needs `model`")
        return spec

    @property
    def is_local(self) -> bool:
        """True when prompts never leave this machine (a local model)."""
        return self.backend in LOCAL_BACKENDS

    @property
    def may_see_private(self) -> bool:
        """True when private tasks may be sent: a local model, or an opted-in loopback server."""
        return self.is_local or (self.allow_private and is_loopback_url(self.base_url))

    @property
    def label(self) -> str:
        """The name shown in tables."""
        return self.display_name or self.name

    @property
    def mode(self) -> str:
        """``loglik`` or ``generate`` (the API backend always generates)."""
        return "generate" if self.backend == "openai" else self.scoring

    def describe(self) -> str:
        """Backend and endpoint, for messages (never a key)."""
        if self.is_local:
            return f"local model {self.pretrained}"
        return f"{self.backend} API {self.base_url} (model {self.model})"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record (written to ``metrics.json``)."""
        out = asdict(self)
        out["tasks"] = list(self.tasks) if self.tasks is not None else None
        return out


def is_loopback_url(url: str) -> bool:
    """True when ``url``'s host is this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def llm_specs(llm_cfg: Mapping[str, Any] | None) -> dict[str, LLMSpec]:
    """All LLM specs of the ``llm:`` config section, by key."""
    models = (llm_cfg or {}).get("models") or {}
    return {name: LLMSpec.from_config(name, cfg or {}) for name, cfg in models.items()}


def _is_private(task: str, tasks_cfg: Mapping[str, Any]) -> bool:
    return bool((tasks_cfg.get(task) or {}).get("private", False))


def check_privacy(tasks_cfg: Mapping[str, Any], llms_cfg: Mapping[str, Any] | None) -> None:
    """Refuse, before any job runs, a configuration that would send private text off this machine.

    Called at workflow parse time. A task with ``private: true`` listed in the ``tasks`` of an
    LLM that is not local is refused; with ``tasks: null`` such an LLM simply skips private tasks
    (see ``llm_jobs``). ``allow_private: true`` is accepted only for a server on the loopback
    interface.

    Parameters
    ----------
    tasks_cfg
        ``config["tasks"]``.
    llms_cfg
        ``config["llm"]["models"]`` (or the whole ``llm`` section; both are accepted).

    Raises
    ------
    PvigroupError
        Naming the task and the backend, or an unknown task in an LLM's ``tasks``.
    """
    models = dict(llms_cfg or {})
    if "models" in models and isinstance(models["models"], Mapping):
        models = dict(models["models"])
    for name, cfg in models.items():
        spec = LLMSpec.from_config(name, cfg or {})
        if spec.allow_private and not spec.is_local and not is_loopback_url(spec.base_url):
            raise PvigroupError(
                f"config llm.models.{name}.allow_private: only a server on this machine "
                f"(localhost/127.0.0.1/::1) may receive private tasks, not {spec.base_url}"
            )
        for task in spec.tasks or ():
            if task not in tasks_cfg:
                raise PvigroupError(f"config llm.models.{name}.tasks: unknown task {task!r}")
            if _is_private(task, tasks_cfg) and not spec.may_see_private:
                raise PvigroupError(
                    f"config llm.models.{name}.tasks: task {task!r} is private and is never sent to "
                    f"the non-local backend {spec.describe()}; remove it from the list"
                )


def refuse_private(task: str, private: bool, spec: LLMSpec) -> None:
    """Job-time guard: raise before any request when a private ``task`` would leave the machine."""
    if private and not spec.may_see_private:
        raise PvigroupError(
            f"task {task!r} is private and is never sent to the non-local backend {spec.describe()} "
            f"(llm {spec.name}); nothing was sent"
        )


def llm_jobs(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The ``(llm, task)`` pairs to run: each LLM's ``tasks`` (null = every task it may see).

    Private tasks are left out for LLMs that are not local (``check_privacy`` refuses them when
    listed explicitly).
    """
    tasks_cfg = config.get("tasks") or {}
    jobs = []
    for name, spec in llm_specs(config.get("llm")).items():
        if spec.tasks is None:
            chosen = [
                t
                for t in sorted(tasks_cfg)
                if spec.may_see_private or not _is_private(t, tasks_cfg)
            ]
        else:
            chosen = sorted(spec.tasks)
        jobs.extend((name, task) for task in chosen)
    return jobs


def llm_targets(config: Mapping[str, Any]) -> list[str]:
    """Every LLM output file for ``rule all``: per-(llm, task) metrics and the two tables.

    Empty when ``llm.models`` is empty.
    """
    jobs = llm_jobs(config)
    if not jobs:
        return []
    out = []
    for llm, task in jobs:
        out += [
            f"results/llm/{llm}/{task}/predictions.parquet",
            f"results/llm/{llm}/{task}/metrics.json",
        ]
    return [*out, "results/llm/table07.tsv", "results/llm/table08.tsv"]


def llm_metric_paths(config: Mapping[str, Any]) -> list[str]:
    """The ``metrics.json`` files the table rule collects."""
    return [f"results/llm/{llm}/{task}/metrics.json" for llm, task in llm_jobs(config)]


def targets_function(config: Mapping[str, Any]) -> Callable[..., list[str]]:
    """``llm_targets`` as an input function (``wildcards -> paths``) for ``rule all``."""
    targets = llm_targets(config)

    def llm_all_targets(wildcards: Any = None) -> list[str]:
        return list(targets)

    return llm_all_targets


def task_flags(tasks_cfg: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per task only what ``prompt_llm`` needs of its entry: ``domain`` and ``private``."""
    return {
        task: {
            "domain": (cfg or {}).get("domain", "general"),
            "private": bool((cfg or {}).get("private", False)),
        }
        for task, cfg in tasks_cfg.items()
    }


def api_key_envvars(config: Mapping[str, Any]) -> list[str]:
    """Environment variables holding API keys of the configured API LLMs (for ``envvars:``)."""
    names = {
        spec.api_key_env
        for spec in llm_specs(config.get("llm")).values()
        if not spec.is_local and spec.api_key_env
    }
    return sorted(names)


def needs_gpu(spec_cfg: Mapping[str, Any]) -> int:
    """GPUs a ``prompt_llm`` job asks for: 1 for a local model not pinned to the CPU, else 0."""
    backend = spec_cfg.get("backend", "local")
    return int(backend == "local" and spec_cfg.get("device", "auto") != "cpu")
