"""One set of pins: the conda environments of the rules (envs/*.yaml, ``--sdm conda``) pin the
versions the README's pip install resolves, so both ways of running use one software stack."""

from __future__ import annotations

import importlib.metadata as md
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
ENVS = sorted((REPO / "envs").glob("*.yaml"))


def pip_pins(path: Path) -> dict[str, str]:
    """``name -> version`` of the ``pip:`` list of a conda environment file (``==`` pins only)."""
    deps = yaml.safe_load(path.read_text())["dependencies"]
    pins = {}
    for dep in deps:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                req = Requirement(line)
                spec = list(req.specifier)
                assert len(spec) == 1 and spec[0].operator == "==", f"{path.name}: {line} not pinned"
                pins[req.name] = spec[0].version
    return pins


def installed(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def test_there_are_environments_with_pins():
    assert [p.name for p in ENVS] == ["llm.yaml", "stats.yaml", "torch.yaml"]
    assert all(pip_pins(p) for p in ENVS)


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_pins_equal_the_pip_resolved_versions(env):
    wrong = {}
    for name, pinned in pip_pins(env).items():
        have = installed(name)
        # a local version label (torch's "+cpu" / "+cu128" build) is the same release
        if have is None or Version(have).public != Version(pinned).public:
            wrong[name] = (pinned, have)
    assert not wrong, (f"envs/{env.name} pins differ from this pip install "
                       f"(name: (pinned, installed)): {wrong}")
    python = next(d for d in yaml.safe_load(env.read_text())["dependencies"]
                  if isinstance(d, str) and d.startswith("python="))
    assert python == f"python={sys.version_info.major}.{sys.version_info.minor}"


def test_env_pins_satisfy_the_package_requirements():
    requires = [Requirement(r) for r in md.requires("pvigroup") or []]
    ranges = {r.name: r.specifier for r in requires if not r.marker}
    for env in ENVS:
        for name, pinned in pip_pins(env).items():
            if name in ranges:
                assert ranges[name].contains(pinned), (env.name, name, pinned, ranges[name])
