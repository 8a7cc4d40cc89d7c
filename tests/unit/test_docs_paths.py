"""Every path the user documentation names exists: repository files and folders on disk, result
paths in the workflow's path scheme (an output, log or benchmark pattern of some rule), and the
relative links between the Markdown pages."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted([REPO / "README.md", REPO / "config" / "README.md", *(REPO / "docs").glob("*.md")])
REPO_ROOTS = ("src/", "workflow/", "config/", "bench/", "tests/", "docs/", "envs/", ".test/",
              "slurm/", "profiles/")
WRITTEN_ROOTS = ("results/", "logs/", "benchmarks/")
#: Paths a user or a run creates (not in the repository, not workflow outputs).
NOT_IN_REPO = {"bench/results-gpu.json", "bench/results-gpu-pad128.json", "config/my.yaml"}
#: Written by ``snakemake --report``, not by a rule.
REPORT = {"results/report.html", "results/report.zip"}


def _code_spans(text: str) -> list[str]:
    spans = re.findall(r"`([^`\n]+)`", text)
    spans += [line for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S)
              for line in block.splitlines()]
    return spans


def _paths(text: str, roots: tuple[str, ...]) -> set[str]:
    """The paths under ``roots`` named in code spans (``{a,b}`` alternatives kept whole)."""
    out = set()
    pattern = r"(?<![\w./-])((?:%s)(?:\{[^}\s]*\}|[^\s`()\"';:,{}=])*)" % "|".join(
        re.escape(r) for r in roots)
    for span in _code_spans(text):
        for token in re.findall(pattern, span):
            token = token.rstrip(".")
            if not re.search(r"[<>…*\[\]|$~]", token):
                out.add(token)
    return out


def _components(path: str) -> list[str]:
    """``a/{x}/b{y}.tsv`` -> ``["a", "*", "b*.tsv"]``; ``{a,b}`` alternatives become ``*`` too."""
    return [re.sub(r"\{[^}]*\}", "*", part) for part in path.strip("/").split("/")]


def _same(doc: str, rule: str) -> bool:
    return fnmatch.fnmatch(doc, rule) or fnmatch.fnmatch(rule, doc) or ("*" in doc and "*" in rule)


def _scheme() -> list[list[str]]:
    text = (REPO / "Snakefile").read_text()
    text += "".join(p.read_text() for p in (REPO / "workflow" / "rules").glob("*.smk"))
    found = re.findall(r"f?\"((?:results|logs|benchmarks)/[^\"]+)\"", text)
    return [_components(p) for p in found]


def test_the_scheme_is_read():
    scheme = _scheme()
    assert len(scheme) > 50
    assert ["results", "pvi", "*", "*", "prior.json"] in scheme


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_repository_paths_exist(doc):
    missing = sorted(p for p in _paths(doc.read_text(), REPO_ROOTS)
                     if p not in NOT_IN_REPO and not (REPO / p).exists())
    assert not missing, f"{doc.relative_to(REPO)} names paths that do not exist: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_result_paths_are_in_the_workflow_scheme(doc):
    scheme = _scheme()
    unknown = []
    for path in _paths(doc.read_text(), WRITTEN_ROOTS) - REPORT:
        parts = _components(path)
        if not any(len(parts) <= len(rule) and all(map(_same, parts, rule[:len(parts)]))
                   for rule in scheme):
            unknown.append(path)
    assert not unknown, (f"{doc.relative_to(REPO)} names result paths no rule writes: "
                         f"{sorted(unknown)}")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc):
    prose = re.sub(r"```.*?```|`[^`\n]+`", "", doc.read_text(), flags=re.S)
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", prose)
    files = [link for link in links if "://" not in link and re.search(r"[./]", link)]
    assert files or doc.name != "README.md"
    broken = [link for link in files if not (doc.parent / link).exists()]
    assert not broken, f"{doc.relative_to(REPO)} links to missing files: {broken}"


def test_the_check_finds_a_wrong_path(tmp_path):
    text = "`results/pvi/{model}/{task}/null/prior.json` and `src/pvigroup/nothing.py`"
    assert "src/pvigroup/nothing.py" in _paths(text, REPO_ROOTS)
    parts = _components("results/pvi/{model}/{task}/null/prior.json")
    assert not any(len(parts) <= len(rule) and all(map(_same, parts, rule[:len(parts)]))
                   for rule in _scheme())
