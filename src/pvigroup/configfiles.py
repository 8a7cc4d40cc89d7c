"""Reading config files as Snakemake does: several files merged in order, and task-source overlays.

``snakemake --configfile A B`` loads each file (JSON, else YAML through yte) and merges it into
the previous ones with :func:`snakemake.utils.update_config`: mappings are merged key by key at
every depth, any other value (a list, a string, ``null``) replaces the earlier one.
:func:`load_configfiles` does exactly that, with Snakemake's own functions, so ``pvigroup
estimate --configfile A B`` prices the config the workflow runs.

A deep merge cannot *remove* a key. An overlay that moves a task from the Hugging Face hub to
local files (``source: {files: ...}`` over ``source: {hf: ...}``) would keep both, which the
schema refuses. So a ``null`` ``hf`` or ``files`` in a task's source means "not this kind of
source": :func:`drop_replaced_sources` removes it before validation. The overlay therefore reads

.. code-block:: yaml

    tasks:
      boolq:
        source: {hf: null, files: {train: data/boolq/train.jsonl, test: data/boolq/val.jsonl}}
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import Any

from pvigroup.errors import PvigroupError

SOURCE_KINDS = ("hf", "files")


def load_configfiles(paths: Iterable[str | Path]) -> dict[str, Any]:
    """Load and merge config files in order, as ``snakemake --configfile A B ...`` does.

    Parameters
    ----------
    paths : iterable of path
        The files, first to last; a later file's values win.

    Returns
    -------
    dict
        The merged config (not validated, no defaults filled).

    Raises
    ------
    PvigroupError
        A file that does not exist, is not valid JSON/YAML, or has no mapping at its top level.
    """
    from snakemake.common.configfile import load_configfile
    from snakemake.utils import update_config
    from snakemake_interface_common.exceptions import WorkflowError

    config: dict[str, Any] = {}
    paths = [Path(p) for p in paths]
    if not paths:
        raise PvigroupError("no config file given")
    for path in paths:
        if not path.is_file():
            raise PvigroupError(f"{path}: config file not found")
        try:
            loaded = load_configfile(str(path))
        except WorkflowError as err:
            raise PvigroupError(f"{path}: {err}") from None
        update_config(config, loaded)
    return config


def drop_replaced_sources(config: MutableMapping[str, Any]) -> list[str]:
    """Remove the ``null`` ``hf``/``files`` keys of every task's source, in place.

    Returns the removed keys as ``tasks.<name>.source.<kind>`` (for messages and tests). Only a
    key whose value is ``null`` is removed; a source left with neither kind is refused by the
    schema afterwards, naming the task.
    """
    removed = []
    tasks = config.get("tasks")
    if not isinstance(tasks, MutableMapping):
        return removed
    for name, task in tasks.items():
        source = task.get("source") if isinstance(task, MutableMapping) else None
        if not isinstance(source, MutableMapping):
            continue
        for kind in SOURCE_KINDS:
            if kind in source and source[kind] is None:
                del source[kind]
                removed.append(f"tasks.{name}.source.{kind}")
    return removed
