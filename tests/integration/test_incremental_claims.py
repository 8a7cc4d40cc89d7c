"""The README's incremental claims, on a copy of the repository: editing a function body in
``src/`` retrains nothing, editing a workflow script reruns that rule's jobs (and only what reads
their outputs), nothing upstream of it.

The copy (Snakefile, workflow/, src/, profiles/, envs/) runs the tiny tasks with a tiny random
encoder through the statistics; the package is imported from the copy (PYTHONPATH), so the edit
is the code the jobs would run.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from snakerun import REPO, TINY, job_counts
from tinymodel import make_tiny_bert

pytestmark = pytest.mark.slow

UPSTREAM = {"prepare_task", "finetune_gprime", "finetune_null", "fit_empirical_prior"}


def smk(copy, work, *args):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(copy / "Snakefile"), "--directory",
           str(work), "--cores", "2", *args, "--configfile", str(work / "config.yaml")]
    env = {**os.environ, "PYTHONPATH": str(copy / "src"), "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=1200,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    copy = root / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")
    for name in ("workflow", "src", "profiles", "envs"):
        shutil.copytree(REPO / name, copy / name, ignore=ignore)
    shutil.copy(REPO / "Snakefile", copy / "Snakefile")
    work = root / "work"
    shutil.copytree(REPO / "tests" / "data" / "tiny", work / "tiny")
    cfg = yaml.safe_load(TINY.read_text())
    del cfg["tasks"]["noisy"]
    cfg["models"] = {"minilm": {"pretrained": str(make_tiny_bert(root / "tiny-bert")),
                                "family": "bert"}}
    cfg["pvi"]["train"].update(epochs=1, lr=3e-3)
    cfg["pvi"]["allow_collapsed"] = True
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    smk(copy, work, "stats")
    # the copy's package is the one imported
    where = subprocess.run([sys.executable, "-c", "import pvigroup; print(pvigroup.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(copy / "src")},
                           capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(copy / "src")), where
    return copy, work


def edit_function_body(path, name):
    """Insert a statement at the top of function ``name``'s body (after its docstring)."""
    source = path.read_text()
    fn = next(n for n in ast.walk(ast.parse(source))
              if isinstance(n, ast.FunctionDef) and n.name == name)
    first = fn.body[1] if isinstance(fn.body[0], ast.Expr) and len(fn.body) > 1 else fn.body[0]
    lines = source.splitlines(keepends=True)
    indent = " " * first.col_offset
    lines.insert(first.lineno - 1, f"{indent}_edited = True  # a change to the package\n")
    path.write_text("".join(lines))


def test_rerun_schedules_nothing(done):
    copy, work = done
    assert "Nothing to be done" in smk(copy, work, "stats", "-n")


def test_editing_a_package_function_body_retrains_nothing(done):
    copy, work = done
    for module, func in (("pvi.py", "compute_pvi"), ("engine/loop.py", "train")):
        edit_function_body(copy / "src" / "pvigroup" / module, func)
    out = smk(copy, work, "stats", "-n")
    assert "Nothing to be done" in out, out[-3000:]


def test_editing_a_workflow_script_reruns_that_rule_only(done):
    copy, work = done
    script = copy / "workflow" / "scripts" / "vinfo.py"
    script.write_text(script.read_text() + "# edited\n")
    out = smk(copy, work, "stats", "-n")
    counts = job_counts(out)
    assert counts.get("vinfo") == 1, counts
    # nothing upstream of it: no training, no PVI, no test of a pair
    assert not (UPSTREAM | {"compute_pvi", "pair_tests"}) & set(counts), counts
    reasons = out.split("Reasons:", 1)[1]
    changed = reasons.split("code has changed since last execution:", 1)[1].splitlines()[1]
    assert changed.strip() == "vinfo", reasons
