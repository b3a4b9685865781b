"""Random measurement and clinical tables with every feature of the table contract.

Fragments, too-small, absent, merged and not-evaluable targets, missing rows, nodal and non-nodal
targets and non-targets, equivocal and nodal new lesions, slice thickness, the diagnostic-CT flag,
pass-through columns, clinical dates and (with ``breaches``) rule breaches the engine refuses.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

HEADER = (
    "patient_id,date,lesion_id,role,site,nodal,long_axis_mm,short_axis_mm,state,"
    "slice_thickness_mm,diagnostic_ct,reader,notes,fragment"
)
SITES = ("liver", "Liver", "left lung", "right lung", "bone", "pancreas", "mesenteric lymph node")


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

    thickness = rnd.choice(("", "", "1.25", "5", "7.5", "8"))
    diagnostic = rnd.choice(("", "", "true", "false")) if messy else ""
    reader = rnd.choice(("dr.a", "dr.b", ""))

    def add(
        d: dt.date,
        lid: str,
        role: str,
        site: str,
        nodal: bool,
        mm: str,
        state: str,
        fragment: str = "",
    ) -> None:
        long_mm, short_mm = (f"{float(mm or 0) * 1.5:.1f}" if mm else "", mm) if nodal else (mm, "")
        nodal_text = rnd.choice(("true", "yes", "1")) if nodal else rnd.choice(("false", "no"))
        note = rnd.choice(("", "", '"re-read, see PACS"', "ok"))
        rows.append(
            f"{pid},{d},{lid},{role},{site},{nodal_text},{long_mm},{short_mm},{state},"
            f"{thickness},{diagnostic},{reader},{note},{fragment}"
        )

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
                for fragment in ("a", "b"):
                    add(d, lid, "target", site, nodal, _size(rnd, mm / 2, decimals), "measured",
                        fragment)  # fmt: skip
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
