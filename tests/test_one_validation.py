"""What one command refuses, no other command accepts (issue 16): ``rescore`` of a table and
``import`` of the same table agree on every patient of random tables that break RECIST's rules
(tests/recist/_random_tables.py: deaths before the last scan, progression before the treatment
start …) with one more breach in most patients: an unnamed repeated row, a target first seen
after baseline, a new lesion at baseline, a fragment of a non-target, a measured target without
its size, a state the role does not have."""

from __future__ import annotations

import csv
import io
import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recistry.cli import main
from tests.recist._random_tables import _write_tables


def _break(rows: list[str], rnd: random.Random) -> list[str]:
    """``rows`` (one patient's) with one more rule breach, chosen at random, or as they are.

    Columns: patient_id, date, lesion_id, role, site, nodal, long_axis_mm, short_axis_mm, state,
    slice_thickness_mm, diagnostic_ct, reader, notes, fragment.
    """
    if not rows:
        return rows
    cells = list(csv.reader(rows))
    pick = rnd.choice(cells)
    later = [c for c in cells if c[1] > min(x[1] for x in cells)]
    breach = rnd.choice(
        ("copy", "late target", "new at baseline", "non-target fragment", "no size", "bad state")
    )
    if breach == "copy":  # a repeated row without a fragment name of its own
        cells.append([*pick[:13], ""])
    elif breach == "late target" and later:
        cells.append([*rnd.choice(later)[:2], "T99", "target", "liver", "false", "20", "",
                      "measured", "", "", pick[11], "", ""])  # fmt: skip
    elif breach == "new at baseline":
        first = min(cells, key=lambda c: c[1])
        cells.append([*first[:2], "NEW9", "new", "liver", "false", "", "", "present", "", "",
                      first[11], "", ""])  # fmt: skip
    elif breach == "non-target fragment":
        cells.append([*pick[:2], "NT9", "non_target", "bone", "false", "", "", "present", "", "",
                      pick[11], "", "a"])  # fmt: skip
    elif breach == "no size" and pick[3] == "target":
        pick[6] = pick[7] = ""
        pick[8] = "measured"
    elif breach == "bad state":
        pick[8] = rnd.choice(("measured", "equivocal", "progression", "merged"))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(cells)
    return out.getvalue().splitlines()


def _split_by_patient(
    table: Path, clinical: Path, folder: Path, rnd: random.Random
) -> list[tuple[Path, Path]]:
    header, *rows = table.read_text(encoding="utf-8").splitlines()
    clinical_header, *clinical_rows = clinical.read_text(encoding="utf-8").splitlines()
    pairs = []
    for pid in sorted({row.split(",", 1)[0] for row in rows}):
        m = folder / f"{pid}.csv"
        c = folder / f"{pid}_clinical.csv"
        mine = [r for r in rows if r.startswith(pid + ",")]
        if rnd.random() < 0.6:
            mine = _break(mine, rnd)
        m.write_text("\n".join([header, *mine]) + "\n")
        c.write_text(
            "\n".join([clinical_header, *(r for r in clinical_rows if r.startswith(pid + ","))])
            + "\n"
        )
        pairs.append((m, c))
    return pairs


def _outcome(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str | None]:
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status in (0, 2) and "Traceback" not in err, err
    where = re.search(r", row (\d+)", err)
    return status, where.group(1) if where else None


# capsys is read (and so emptied) after every command: nothing leaks between examples.
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_rescore_and_import_refuse_the_same_patients_at_the_same_row(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str], seed: int
) -> None:
    folder = tmp_path_factory.mktemp("one")
    table, clinical = _write_tables(folder, seed, patients=10, breaches=True)
    for m, c in _split_by_patient(table, clinical, folder, random.Random(seed)):
        store = folder / f"{m.stem}.db"
        scored = _outcome(["rescore", str(m), "--clinical", str(c), "--format", "json"], capsys)
        stored = _outcome(["import", str(m), "--clinical", str(c), "--store", str(store)], capsys)
        assert scored == stored, m.read_text()
        assert store.exists() == (stored[0] == 0)  # a refused import leaves no store behind
