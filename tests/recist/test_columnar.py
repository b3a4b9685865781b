"""The columnar fast path against the reference engine: byte-identical JSON, same cohort values.

``recistry.recist.columnar`` restates the rules of ``recistry.recist.engine`` over integer
columns for large tables. Random tables with every feature of the table contract (fragments,
too-small, absent, merged and not-evaluable targets, missing rows, non-targets, equivocal and
nodal new lesions, clinical dates, rule breaches) are scored both ways: every patient the fast
path takes must come out exactly as the reference engine writes it, and every patient the
reference engine refuses must be left to it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recistry.errors import InputError
from recistry.recist.columnar import score_columns
from recistry.recist.engine import assess_patient
from recistry.recist.model import AssessmentOptions
from recistry.results import assessment_to_dict
from recistry.tables import build_records, read_clinical, read_measurement_table

HEADER = "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state"
SITES = ("liver", "Liver", "left lung", "right lung", "bone", "pancreas", "mesenteric lymph node")
OUTCOME_FIELDS = (
    "measurable",
    "best_overall_response",
    "best_overall_response_unconfirmed",
    "best_overall_response_confirmed",
    "first_response_date",
    "origin_date",
    "pfs_days",
    "pfs_event",
    "os_days",
    "os_event",
    "covariates",
)


def _size(rnd: random.Random, mm: float, decimals: int) -> str:
    return f"{max(mm, 0):.{decimals}f}"


def _patient(
    rnd: random.Random, pid: str, decimals: int, breaches: bool
) -> tuple[list[str], str | None]:
    """Rows of one random patient and their clinical row (or None); with ``breaches``, some
    patients break a rule the engine refuses (a role change, a death before the last scan)."""
    start = dt.date(2023, 1, 2) + dt.timedelta(days=rnd.randrange(400))
    dates = [start]
    for _ in range(rnd.choice((0, 1, 2, 3, 4, 5, 6))):
        dates.append(dates[-1] + dt.timedelta(days=rnd.choice((14, 20, 28, 30, 42, 56, 84))))
    rows: list[str] = []
    # Half the patients are messy (missing and odd rows, equivocal lesions, breaches); the
    # others keep to what a clean trial table holds, the fast path's home ground.
    messy = rnd.random() < 0.5
    odd = 1.0 if messy else 0.0

    def add(d: dt.date, lid: str, role: str, site: str, nodal: bool, mm: str, state: str) -> None:
        long_mm, short_mm = (f"{float(mm or 0) * 1.5:.1f}" if mm else "", mm) if nodal else (mm, "")
        nodal_text = rnd.choice(("true", "yes", "1")) if nodal else rnd.choice(("false", "no"))
        rows.append(f"{pid},{d},{lid},{role},{site},{nodal_text},{long_mm},{short_mm},{state}")

    n_targets = rnd.choice((0, 1, 2, 3, 3, 4, 5, 6))
    targets = []
    for k in range(n_targets):
        nodal = rnd.random() < 0.25
        site = "lymph node" if nodal else rnd.choice(SITES)
        base = rnd.uniform(16, 60) if rnd.random() < 1 - 0.1 * odd else rnd.uniform(5, 14)
        targets.append((f"T{k + 1}", site, nodal, base))
    non_targets = [
        (f"NT{k + 1}", rnd.choice(SITES), rnd.random() < 0.2)
        for k in range(rnd.choice((0, 0, 1, 2)))
    ]
    trend = rnd.choice((0.0, 0.3, 0.69, 0.7, 0.71, 0.9, 1.0, 1.1, 1.2, 1.25, 1.5))
    new_ids: dict[str, bool] = {}
    for index, d in enumerate(dates):
        follow_up = index > 0
        factor = 1.0 if not follow_up else trend ** min(index, 2) * rnd.choice((1, 1, 0.97, 1.03))
        for lid, site, nodal, base in targets:
            roll = rnd.random()
            mm = base * factor
            if follow_up and roll < 0.04 * odd:
                continue  # not evaluated on this date
            if follow_up and roll < 0.12:
                states = ("too_small", "absent", "merged", "not_evaluable")
                state = rnd.choice(states if messy else states[:-1])
                add(d, lid, "target", site, nodal, "", state)
            elif follow_up and roll < 0.12 + 0.03 * odd:  # a split lesion: two fragments
                add(d, lid, "target", site, nodal, _size(rnd, mm / 2, decimals), "measured")
                add(d, lid, "target", site, nodal, _size(rnd, mm / 2, decimals), "measured")
            elif follow_up and nodal and roll < 0.25:
                add(d, lid, "target", site, nodal, _size(rnd, rnd.uniform(4, 9.9), 1), "measured")
            else:
                add(d, lid, "target", site, nodal, _size(rnd, mm, decimals), "measured")
        for lid, site, nodal in non_targets:
            roll = rnd.random()
            if not follow_up:
                add(d, lid, "non_target", site, nodal, "", "present")
            elif roll < 0.05 * odd:
                continue
            else:
                states = ("present",) * 6 + ("absent", "progression", "not_evaluable")
                state = rnd.choice(states if messy else states[:-1])
                add(d, lid, "non_target", site, nodal, "", state)
        if follow_up and (targets or non_targets) and rnd.random() < 0.15:
            lid = rnd.choice(("NL1", "NL2", *new_ids))
            nodal = new_ids.setdefault(lid, rnd.random() < 0.3)
            short = rnd.choice(("", "8.0", "12.0", "16.0")) if nodal and messy else ""
            state = rnd.choice(("present", "present", "equivocal")) if messy else "present"
            add(d, lid, "new", "lymph node" if nodal else "liver", nodal, short, state)
    if breaches and messy and rnd.random() < 0.06 and rows:  # a rule breach the engine refuses
        rows.append(rnd.choice(rows).replace(",target,", ",new,").replace(",non_target,", ",new,"))
    if rows and rnd.random() < 0.5:
        late_start = (40,) if breaches else ()  # a progression before it is refused
        treatment = start + dt.timedelta(days=rnd.choice((-10, 0, 0, 3, *late_start)))
        # Dates before the treatment start are refused by the clinical reader: keep them after.
        after = [d for d in dates if d >= treatment] or [treatment]
        last = str(after[-1] + dt.timedelta(days=rnd.choice((0, 30, 200))))
        before_last_scan = after[-1] - dt.timedelta(days=1)
        early_death = str(max(before_last_scan, treatment)) if breaches else ""
        death = rnd.choice(("", "", "", last, early_death))
        last = "" if death else last
        new_therapy = rnd.choice(("",) * 8 + (str(after[-1]),))
        grade = rnd.choice(("G1", "G2", ""))
        clinical = f"{pid},{treatment},{last},{death},{new_therapy},{grade}"
    else:
        clinical = None
    return rows, clinical


def _write_tables(
    tmp: Path, seed: int, patients: int, *, breaches: bool = True
) -> tuple[Path, Path]:
    rnd = random.Random(seed)
    decimals = rnd.choice((0, 1, 1, 2))
    rows: list[str] = []
    clinical: list[str] = []
    for n in range(patients):
        patient_rows, clinical_row = _patient(rnd, f"P{n:03d}", decimals, breaches)
        rows.extend(patient_rows)
        if clinical_row:
            clinical.append(clinical_row)
    if rnd.random() < 0.3:
        rnd.shuffle(rows)
    measurements = tmp / f"m{seed}.csv"
    measurements.write_text("\n".join([HEADER, *rows]) + "\n")
    clinical_path = tmp / f"c{seed}.csv"
    clinical_path.write_text(
        "\n".join(
            [
                "patient_id,treatment_start,last_followup,death_date,new_therapy_date,who_grade",
                *clinical,
            ]
        )
        + "\n"
    )
    return measurements, clinical_path


def _compare(measurements: Path, clinical_path: Path, options: AssessmentOptions) -> int:
    """Score both ways; return how many patients the fast path took."""
    clinical = read_clinical(clinical_path)
    table = read_measurement_table(measurements)
    fast = score_columns(table.columns(), clinical, options)
    records = build_records(table.measurements(), clinical)
    assert [r.patient_id for r in records] == list(table.columns().patient_ids)
    taken = 0
    for record, scored in zip(records, fast, strict=True):
        try:
            reference = assess_patient(record, options)
        except InputError:
            assert scored is None, f"{record.patient_id}: the reference refuses this patient"
            continue
        if scored is None:
            continue
        taken += 1
        expected = json.dumps(assessment_to_dict(reference), ensure_ascii=False)
        assert scored.json == expected, record.patient_id
        assert json.loads(scored.json) == json.loads(expected)
        for name in OUTCOME_FIELDS:
            assert getattr(scored.outcome, name) == getattr(reference, name), name
    return taken


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), confirm=st.booleans())
def test_fast_path_writes_what_the_reference_engine_writes(tmp_path_factory, seed, confirm):
    tmp = tmp_path_factory.mktemp("columnar")
    measurements, clinical = _write_tables(tmp, seed, patients=25)
    _compare(measurements, clinical, AssessmentOptions(confirm=confirm))


@pytest.mark.parametrize("confirm", [False, True])
def test_fast_path_takes_a_large_share_of_a_varied_table(tmp_path, confirm):
    """On 600 varied patients (half of them messy) the fast path carries a large share, and
    agrees with the reference on every one of them."""
    measurements, clinical = _write_tables(tmp_path, seed=2026, patients=600)
    taken = _compare(measurements, clinical, AssessmentOptions(confirm=confirm, sd_min_days=56))
    assert taken >= 150


def _fast_call(tmp_path: Path, lines: list[str]) -> dict:
    path = tmp_path / "t.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    (scored,) = score_columns(read_measurement_table(path).columns(), {}, AssessmentOptions())
    assert scored is not None, "this patient must take the fast path"
    return json.loads(scored.json)


@pytest.mark.parametrize(
    ("baseline", "follow_ups", "calls"),
    [
        # RECIST 1.1 §4.3.1: −30% is PR, inclusive (23.0 → 16.1 is exactly −30.0%).
        ("23.0", ["16.1"], ["PR"]),
        ("23.0", ["16.2"], ["SD"]),
        # §4.3.1: +20% and +5 mm over the nadir, both inclusive (27.0 → 32.4 is +20.0%, +5.4).
        ("30.0", ["27.0", "32.4"], ["SD", "PD"]),
        ("30.0", ["27.0", "32.3"], ["SD", "SD"]),
        # §4.3.1: +20% alone is not PD without +5.0 mm (11.4 → 16.4 is +5.0 mm, +43.9%).
        ("11.4", ["16.4"], ["PD"]),
        ("11.4", ["16.3"], ["SD"]),
    ],
)
def test_fast_path_thresholds_are_exact_recist_4_3_1(tmp_path, baseline, follow_ups, calls):
    lines = [f"P1,2024-01-01,T1,target,liver,false,{baseline},,measured"]
    for k, mm in enumerate(follow_ups, start=1):
        lines.append(f"P1,2024-{1 + 2 * k:02d}-01,T1,target,liver,false,{mm},,measured")
    patient = _fast_call(tmp_path, lines)
    assert [tp["target_response_strict"] for tp in patient["timepoints"]] == calls


@settings(max_examples=2000, deadline=None)
@given(
    reference=st.integers(1, 10**9),
    value=st.integers(0, 3 * 10**9),
    ratio=st.sampled_from([None, 7, 12, 9995, 10005, 995, 1005]),
)
def test_percent_change_digits_match_the_decimal_engine(reference, value, ratio):
    """The change from baseline and nadir printed by the fast path (integer half-even
    rounding) equals the reference engine's Decimal division then rounding, ties included."""
    from decimal import Decimal

    from recistry.recist.columnar import _percent
    from recistry.results import _pct

    if ratio is not None:  # values on and around the printed rounding boundaries
        value = reference * ratio // (10 if ratio < 100 else 10000 if ratio > 5000 else 1000)
    change = (Decimal(value) - Decimal(reference)) * 100 / Decimal(reference)
    number = _pct(change)
    assert _percent(value, reference) == (f"{change:+.1f}%", repr(number), number)
