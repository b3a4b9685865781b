"""``recistry report`` end to end: files written, HTML rendered by headless Chromium, bad input.

The browser test opens report.html in Debian's Chromium (installed by ``make test`` through
scripts/install-system-deps.sh), checks from the rendered DOM that every section is there and
from a screenshot that the embedded figures were decoded and painted. Set
``RECISTRY_UPDATE_DOCS=1`` to refresh docs/report-screenshot.png from it.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from recistry.cli import main
from recistry.cohort.report import SECTIONS

REPO = Path(__file__).resolve().parents[2]
COHORT = REPO / "sample_dicom" / "cohort"
FIGURES = ("km_pfs", "km_os", "km_dor", "waterfall", "spider", "swimmer", "suv_waterfall")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--hide-scrollbars",
)


def _report(out: Path, *extra: str) -> int:
    return main(
        [
            "report",
            str(COHORT / "measurements.csv"),
            "--clinical",
            str(COHORT / "clinical.csv"),
            "--adverse-events",
            str(COHORT / "adverse_events.csv"),
            "--by",
            "ileal=primary_site==ileum",
            "--by",
            "who_grade",
            "--out",
            str(out),
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert _report(out) == 0
    return out


def test_report_writes_html_figures_and_every_table(report_dir: Path) -> None:
    for name in FIGURES:
        assert (report_dir / f"{name}.png").stat().st_size > 10_000
        assert (report_dir / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    for table in (
        "baseline_characteristics",
        "best_response",
        "subgroups",
        "pfs_kaplan_meier",
        "os_kaplan_meier",
        "dor_kaplan_meier",
        "time_to_event",
        "adverse_events_table",
        "patients",
    ):
        with (report_dir / f"{table}.csv").open() as fh:
            assert len(list(csv.reader(fh))) > 1, table
    summary = json.loads((report_dir / "report.json").read_text())["cohort"]
    assert summary["orr"]["responders"] == 9
    assert set(summary["subgroups"]) == {"ileal", "who_grade"}
    with (report_dir / "time_to_event.csv").open() as fh:
        tte = {(r["endpoint"], r["quantity"]): r["value"] for r in csv.DictReader(fh)}
    assert tte[("PFS", "Median, months (95% CI)")] == "28.5 (17.7–48.0)"
    assert tte[("OS", "Median, months (95% CI)")] == "NR (NR–NR)"
    assert tte[("PFS", "Events")] == "16"
    assert not [p for p in report_dir.parent.iterdir() if p.name.startswith(".report-")]


def test_report_html_is_self_contained(report_dir: Path) -> None:
    """Readable offline: every figure is a data URI and nothing is fetched from elsewhere."""
    page = (report_dir / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(FIGURES)
    assert not re.search(r"""(src|href)=["'](https?:|//)""", page)
    assert "<script" not in page
    assert "@media print" in page


def test_report_renders_in_headless_chromium(report_dir: Path, tmp_path: Path) -> None:
    """Chromium lays out every section and paints the embedded figures."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("chromium not installed: run scripts/install-system-deps.sh (make test)")
    url = (report_dir / "report.html").as_uri()
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile1'}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    ).stdout
    for section_id, heading in SECTIONS:
        assert f'id="{section_id}"' in dom and f"<h2>{heading}</h2>" in dom, section_id
    assert dom.count("<img ") == len(FIGURES)

    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--window-size=1100,16000",
            f"--screenshot={shot}",
            url,
        ],
        capture_output=True,
        timeout=120,
        env=env,
        check=True,
    )
    pixels = (imread(shot)[..., :3] * 255).round().astype(np.uint8)
    # Colours only the figures use (Okabe–Ito SD amber and PD vermillion bars of the waterfall).
    for rgb in ((230, 159, 0), (213, 94, 0)):
        assert np.all(pixels == rgb, axis=-1).sum() > 200, rgb
    if os.environ.get("RECISTRY_UPDATE_DOCS"):
        top = tmp_path / "top.png"
        subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={tmp_path / 'profile3'}",
                "--window-size=1100,1500",
                f"--screenshot={top}",
                url,
            ],
            capture_output=True,
            timeout=120,
            env=env,
            check=True,
        )
        shutil.copyfile(top, REPO / "docs" / "report-screenshot.png")


def test_bad_adverse_event_grade_exits_2_naming_file_row_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CTCAE v5.0 grades are 1–5; a grade 7 is refused before anything is written."""
    bad = tmp_path / "ae.csv"
    bad.write_text("patient_id,event,category,grade\nP01,Fatigue,Other,1\nP02,Nausea,GI,7\n")
    out = tmp_path / "out"
    code = main(
        [
            "report",
            str(COHORT / "measurements.csv"),
            "--clinical",
            str(COHORT / "clinical.csv"),
            "--adverse-events",
            str(bad),
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert str(bad) in err and "row 2" in err and "column 'grade'" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_malformed_by_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _report(tmp_path / "out", "--by", "ileal=primary_site==")
    assert code == 2
    assert "--by" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_confirm_makes_the_headline_confirmed(tmp_path: Path) -> None:
    """RECIST 1.1 §4.6.1: with --confirm the headline ORR uses the confirmed best response."""
    assert _report(tmp_path / "out", "--confirm") == 0
    summary = json.loads((tmp_path / "out" / "report.json").read_text())["cohort"]
    assert summary["response_basis"] == "confirmed"
    assert "ORR (confirmed best response)" in (tmp_path / "out" / "report.html").read_text()


def test_report_escapes_clinical_text_and_handles_no_follow_up(tmp_path: Path) -> None:
    """Clinical values are data, not markup; a cohort without follow-up scans or responders
    still gives every section (empty figures say so rather than failing)."""
    from recistry.cohort.report import write_report
    from recistry.recist.model import Response

    from ._assessments import assessment

    cohort = [
        assessment(f"P{i}", Response.NE, covariates={"site": "<script>alert(1)</script>"})
        for i in range(3)
    ]
    output = write_report(cohort, tmp_path / "out", by=["site"])
    page = output.html.read_text()
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "No responders." in page
    for section_id, _heading in SECTIONS:
        assert f'id="{section_id}"' in page


def test_methods_name_the_policy_profile(report_dir: Path) -> None:
    """Issue 10: the policy profile (name, version, every setting) is stated in the methods."""
    page = (report_dir / "report.html").read_text()
    assert "Policy profile <code>recist1.1</code> version 3" in page
    assert (
        "node_cr = normal-nodes" in page and "node_reappearance = unequivocal-progression" in page
    )
