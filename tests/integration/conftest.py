"""Fixtures of the integration tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from snakerun import REPO, TINY


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory) -> Path:
    """A working directory holding the tiny config and its synthetic data."""
    work = tmp_path_factory.mktemp("tiny")
    shutil.copytree(REPO / "tests" / "data" / "tiny", work / "tiny")
    shutil.copy(TINY, work / "tiny.yaml")
    return work
