"""The Snakemake HTML report embeds the figures, and renders in a headless browser.

``check_report(html, pngs)`` is reusable: point ``PVIGROUP_REPORT_DIR`` at a directory holding a
``report.html`` (and the run's ``results/plots/``) to check a real run's report. Without it, the
test builds a small report from the fixed result files with the real plot functions.
"""

import base64
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[1] / "data" / "results_fixture"
CHROMIUM = Path("/usr/bin/chromium")


def check_report(html: Path, pngs: list[Path]) -> None:
    """Assert ``html`` embeds every PNG of ``pngs`` (its base64 content appears in the page)."""
    text = html.read_text(errors="replace")
    assert "<html" in text.lower()
    for png in pngs:
        b64 = base64.b64encode(png.read_bytes()).decode()
        assert b64[:4000] in text, f"{html} does not embed {png}"


def screenshot(html: Path, out: Path, profile: Path) -> None:
    """Headless chromium screenshot of ``html`` into ``out``."""
    cmd = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--window-size=1280,1600",
           "--virtual-time-budget=10000", f"--screenshot={out}", html.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=180)


SNAKEFILE = """
from pvigroup import plots

report: "workflow.rst"

rule all:
    input: "plots/violin.png", "plots/pairs.png"

rule violin:
    output: report("plots/violin.png", caption="caption.rst", category="PVI", labels={{"model": "roberta"}})
    log: "logs/violin.log"
    run:
        plots.plot_pvi_violin({{t: f"{fixture}/pvi/roberta/{{t}}.parquet" for t in ("boolq", "cb")}}, output[0], model="roberta")

rule pairs:
    output: report("plots/pairs.png", caption="caption.rst", category="Grouping", labels={{"model": "roberta"}})
    log: "logs/pairs.log"
    run:
        plots.plot_pair_pvalues("{fixture}/stats/roberta/pairs.tsv", output[0], alpha=0.01, model="roberta")
"""


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    given = os.environ.get("PVIGROUP_REPORT_DIR")
    if given:
        return Path(given)
    work = tmp_path_factory.mktemp("report")
    (work / "Snakefile").write_text(textwrap.dedent(SNAKEFILE.format(fixture=FIXTURE.resolve())))
    (work / "workflow.rst").write_text("Report of the pvigroup fixture.\n")
    (work / "caption.rst").write_text("Figure for model ``{{ snakemake.wildcards }}``.\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    base = [sys.executable, "-m", "snakemake", "--cores", "1", "--directory", str(work),
            "--snakefile", str(work / "Snakefile")]
    for extra in ([], ["--report", str(work / "report.html")]):
        run = subprocess.run(base + extra, capture_output=True, text=True, env=env, timeout=600,
                             check=False)
        assert run.returncode == 0, run.stderr[-3000:]
    return work


@pytest.mark.slow
def test_report_embeds_plots(report_dir):
    pngs = sorted((report_dir / ("results/plots" if os.environ.get("PVIGROUP_REPORT_DIR")
                                 else "plots")).rglob("*.png"))
    assert pngs, f"no PNG under {report_dir}"
    check_report(report_dir / "report.html", pngs)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed "
                    "(apt-get install chromium) - no headless screenshot")
def test_report_screenshot(report_dir, tmp_path):
    out = tmp_path / "report.png"
    profile = tmp_path / "profile"
    profile.mkdir()
    html = tmp_path / "report.html"
    shutil.copy(report_dir / "report.html", html)
    screenshot(html, out, profile)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
