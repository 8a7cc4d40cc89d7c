"""Small I/O helpers shared by every stage: logs, parquet with metadata, json and tsv."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pvigroup import __version__
from pvigroup.errors import PvigroupError

log = logging.getLogger("pvigroup")


def log_to(path: str | Path | None) -> None:
    """Send logging and stderr of this process to ``path`` (line-buffered), as rules do first."""
    handlers: list[logging.Handler] = []
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        stream = open(path, "a", buffering=1)  # noqa: SIM115 - lives as long as the job
        sys.stderr = stream
        handlers.append(logging.StreamHandler(stream))
    else:
        handlers.append(logging.StreamHandler(sys.stderr))
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def limit_threads(threads: int | None) -> None:
    """Cap torch and BLAS CPU threads at ``threads`` (nothing when None or < 1).

    Sets ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` for libraries not loaded yet and calls
    ``torch.set_num_threads`` when torch is loaded already. An explicit ``engine.threads`` is
    applied later by the engine and wins.
    """
    if not threads or int(threads) < 1:
        return
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(int(threads))
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(int(threads))


def run_script(func: Callable[..., Any], /, *args: Any, log_path: str | None = None, **kwargs: Any) -> Any:
    """Run one package function for a workflow script.

    A ``PvigroupError`` becomes one clear line on the real stderr (shown by Snakemake) and in the
    log, and exit status 1; any other exception propagates with its traceback (a bug).

    The job's thread count (``snakemake.threads`` of the calling script) caps the CPU threads of
    torch and the BLAS libraries, so jobs running side by side on a workstation do not each take
    every core (Snakemake sets ``OMP_NUM_THREADS`` for shell commands, not for scripts).
    """
    real_stderr = sys.stderr
    log_to(log_path)
    limit_threads(getattr(getattr(sys.modules.get("__main__"), "snakemake", None), "threads", None))
    log.info("hub access: HF_HUB_OFFLINE=%s HF_DATASETS_OFFLINE=%s",
             os.environ.get("HF_HUB_OFFLINE", "unset"), os.environ.get("HF_DATASETS_OFFLINE", "unset"))
    try:
        return func(*args, **kwargs)
    except PvigroupError as err:
        log.error("%s", err)
        print(f"pvigroup error: {err}", file=real_stderr)
        raise SystemExit(1) from None


@contextmanager
def file_lock(path: str | Path) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block; jobs
    that want the same lock wait, without using CPU, until the holder leaves the block or dies.

    Yields whether the lock is held: a file system without ``flock`` (some network mounts)
    yields False and the block runs unlocked, so callers must stay correct without it.
    """
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except OSError as err:
            log.debug("no lock on %s (%s): going on without it", path, err)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def fingerprint_frame(df: pd.DataFrame) -> str:
    """sha256 of a frame's content (column names, dtypes as text and values), order-sensitive."""
    h = hashlib.sha256()
    h.update(json.dumps(list(map(str, df.columns))).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).values.tobytes())
    return h.hexdigest()


def fingerprint_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_parquet(df: pd.DataFrame, path: str | Path, meta: Mapping[str, Any] | None = None) -> None:
    """Write ``df`` with key-value metadata (values json-encoded) plus the package version."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    kv = dict(table.schema.metadata or {})
    for key, value in {"pvigroup": __version__, **(meta or {})}.items():
        kv[f"pvigroup.{key}".encode()] = json.dumps(value, sort_keys=True, default=str).encode()
    pq.write_table(table.replace_schema_metadata(kv), path)


def read_parquet(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise PvigroupError(f"{path}: file not found")
    return pd.read_parquet(path)


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``pvigroup.*`` key-value metadata of a parquet file written by ``write_parquet``."""
    kv = pq.read_schema(path).metadata or {}
    out = {}
    for key, value in kv.items():
        k = key.decode()
        if k.startswith("pvigroup."):
            out[k.removeprefix("pvigroup.")] = json.loads(value.decode())
    return out


def write_json(obj: Any, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PvigroupError(f"{path}: file not found") from None
    except json.JSONDecodeError as err:
        raise PvigroupError(f"{path}: not valid JSON ({err})") from None


def write_tsv(df: pd.DataFrame, path: str | Path) -> None:
    """Deterministic TSV: fixed float format, no index, '\\n' line ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False, float_format="%.6g", lineterminator="\n")


def read_tsv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise PvigroupError(f"{path}: file not found")
    return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""])


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
