"""Write the synthetic 25-patient cohort of sample_dicom/cohort/ (deterministic).

    .venv/bin/python sample_dicom/cohort/make_cohort.py sample_dicom/cohort

The per-patient values are INVENTED. They are chosen so that the cohort's aggregates reproduce
the published ones of Iqbal et al., Front Oncol 2024;14:1393317 (Table 1, §2.5 results, Table 2);
see README.md. Nothing here comes from a real patient.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from recistry.imaging.krenning import suggest_grade
from recistry.tables import MEASUREMENT_COLUMNS

SEED = 20240516
SCAN_INTERVAL_DAYS = 91  # CT or Ga-68 DOTATATE PET/CT about every 3 months (seed §2.3)


@dataclass(frozen=True)
class Patient:
    pid: str
    grade: int
    primary_site: str
    line: int
    best: str  # PR / SD / PD, as the engine will find it
    end_day: int  # day of the PD scan (event) or of the last scan (censored)
    progresses: bool
    pd_mode: str = "target"  # target / new / non_target
    death_day: int | None = None


# Responders: ileal 2/4, grade 1/2/3 = 3/6/0, line 2/3/4 = 6/2/1 (cohort-stats.md §1.9).
PATIENTS = [
    Patient("P01", 1, "ileum", 2, "PR", 1700, False),
    Patient("P02", 1, "ileum", 2, "PR", 1600, False),
    Patient("P03", 1, "pancreas", 3, "PR", 1500, False),
    Patient("P04", 2, "pancreas", 2, "PR", 1300, False),
    Patient("P05", 2, "small intestine NOS", 2, "PR", 1280, True),
    Patient("P06", 2, "pancreas", 2, "PR", 1000, False),
    Patient("P07", 2, "colorectal", 2, "PR", 960, True),
    Patient("P08", 2, "jejunum", 3, "PR", 800, True),
    Patient("P09", 2, "pancreas", 4, "PR", 630, True),
    Patient("P10", 1, "ileum", 2, "SD", 1400, False),
    Patient("P11", 1, "pancreas", 2, "SD", 700, True),
    Patient("P12", 2, "ileum", 2, "SD", 1150, False),
    Patient("P13", 2, "pancreas", 2, "SD", 455, True),
    Patient("P14", 2, "pancreas", 2, "SD", 867, True, "new"),
    Patient("P15", 2, "small intestine NOS", 2, "SD", 1100, True),
    Patient("P16", 2, "small intestine NOS", 2, "SD", 1460, True),
    Patient("P17", 2, "small intestine NOS", 3, "SD", 540, True),
    Patient("P18", 2, "duodenum", 3, "SD", 400, False),
    Patient("P19", 2, "colorectal", 2, "SD", 720, True),
    Patient("P20", 2, "colorectal", 4, "SD", 273, True, death_day=900),
    Patient("P21", 2, "pancreas", 4, "SD", 365, True, "non_target"),
    Patient("P22", 2, "adrenal", 2, "SD", 610, False),
    Patient("P23", 3, "pancreas", 3, "SD", 182, True, death_day=700),
    Patient("P24", 3, "thymus", 2, "PD", 84, True, death_day=400),
    Patient("P25", 3, "pancreas", 4, "PD", 90, True, "new", death_day=520),
]

# Table 1 sites of metastasis (a patient may have several): liver 23, bone 8, mesentery 8,
# spleen 2, lung 2, mediastinum 1, peritoneum 1.
METASTASES = {
    "liver": [p.pid for p in PATIENTS if p.pid not in ("P22", "P24")],
    "bone": ["P03", "P06", "P09", "P13", "P17", "P21", "P23", "P25"],
    "mesentery": ["P01", "P02", "P05", "P10", "P12", "P15", "P16", "P17"],
    "spleen": ["P04", "P14"],
    "lung": ["P19", "P24"],
    "mediastinum": ["P24"],
    "peritoneum": ["P07"],
}
# Table 1: 13 female, 12 male (the text of §2.5 says the reverse; Table 1 is followed).
FEMALE = {"P01", "P03", "P05", "P07", "P09", "P11", "P13", "P15", "P17", "P19", "P21", "P23", "P25"}
AGES = [
    45,
    48,
    51,
    54,
    55,
    57,
    58,
    59,
    60,
    61,
    62,
    62,
    63,
    64,
    65,
    66,
    67,
    68,
    69,
    70,
    71,
    73,
    75,
    77,
    79,
]  # median 63, range 45-79 (§2.5)

# Table 2, patients per CTCAE v5.0 grade: (category, event, {grade: patients}).
ADVERSE_EVENTS = [
    ("Gastrointestinal disorders", "Nausea/vomiting", {1: 5, 3: 1}),
    ("Gastrointestinal disorders", "Diarrhea", {1: 5, 2: 1}),
    ("Gastrointestinal disorders", "Constipation", {1: 1}),
    ("Gastrointestinal disorders", "Hepatotoxicity", {1: 1}),
    ("Hematologic disorders", "Anemia", {1: 5}),
    ("Hematologic disorders", "Thrombocytopenia", {1: 3}),
    ("Hematologic disorders", "Pancytopenia", {3: 1}),
    ("Hematologic disorders", "Neutropenia", {2: 1}),
    ("Musculoskeletal", "Mucositis", {1: 1}),
    ("Musculoskeletal", "Nail changes", {1: 2}),
    ("Musculoskeletal", "Neuropathy", {1: 2}),
    ("Other", "Fatigue", {1: 14, 2: 1, 3: 1}),
    ("Other", "Dehydration", {3: 1}),
    ("Other", "Anorexia", {1: 3, 2: 1, 3: 1}),
    ("Other", "Hypertension", {1: 2, 2: 1}),
    ("Other", "Acute kidney injury", {1: 1}),
    ("Other", "Insomnia", {1: 2}),
]

MEASUREMENT_HEADER = [
    *MEASUREMENT_COLUMNS,
    "krenning",
    "suv_max",
    "liver_suv_mean",
    "spleen_suv_mean",
]

# Ga-68 DOTATATE PET references (SUVbw mean, g/ml) of normal liver and spleen, within the usual
# range of the tracer; every patient has a lesion above liver (Krenning >= 3, seed §2.1).
LIVER_SUV = (5.0, 8.0)
SPLEEN_SUV = (18.0, 28.0)


class Uptake:
    """SUVs of each patient's lesions, drawn from their own seeded generator so that the sizes,
    dates and adverse events drawn before Krenning grades existed are unchanged."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.baseline: dict[tuple[str, str], float] = {}

    def references(self) -> tuple[float, float]:
        liver = round(self.rng.uniform(*LIVER_SUV), 1)
        return liver, round(self.rng.uniform(*SPLEEN_SUV), 1)

    def lesion(
        self, pid: str, lesion: str, factor: float, liver: float, spleen: float
    ) -> tuple[str, str]:
        """(Krenning grade, SUVmax) of a lesion whose target sum is ``factor`` × baseline;
        the grade is recistry's rule (:func:`suggest_grade`), never a borderline SUV."""
        key = (pid, lesion)
        if key not in self.baseline:
            # T1, the dominant liver metastasis, above liver (3) or spleen (4); others 2-4.
            low = liver * 1.3 if lesion in ("T1", "N1") else liver * 0.95
            self.baseline[key] = self.rng.uniform(low, spleen * 1.25)
        while True:
            suv = round(
                self.baseline[key] * (0.55 + 0.45 * factor) * self.rng.uniform(0.93, 1.07), 1
            )
            grade = suggest_grade(suv, liver, spleen).grade
            if grade is not None:
                return str(grade), f"{suv:.1f}"


def _scan_days(end_day: int) -> list[int]:
    days = list(range(SCAN_INTERVAL_DAYS, end_day, SCAN_INTERVAL_DAYS))
    if days and end_day - days[-1] < 30:
        days.pop()
    return [*days, end_day]


def _factors(p: Patient, n: int, rng: random.Random) -> list[float]:
    """Target-sum factor relative to baseline at each follow-up scan."""
    if p.best == "PD":
        return [1.32 if p.pd_mode == "target" else 0.92]
    if p.best == "PR":
        best = rng.uniform(0.35, 0.64)
        out = [0.82, 0.66] + [best] * (n - 2)
    else:
        # Within 12% of a floor between -20% and +2%: never -30% from baseline nor +20% from nadir.
        floor = rng.uniform(0.8, 1.02)
        out = [floor * rng.uniform(1.0, 1.12) for _ in range(n)]
    if p.progresses:
        nadir = min(out[:-1]) if n > 1 else 1.0
        out[-1] = nadir * 1.32 if p.pd_mode == "target" else min(out[:-1] or [1.0])
    return out[:n]


def second_read(rows: list[list[str]]) -> list[list[str]]:
    """An independent second reader's read of the same scans, with three planted discordances
    (each a rule of docs/readers.md):

    * P03: targets measured at 90% of their baseline size at every follow-up (SD, not PR);
    * P11: the last scan measured like the one before it (no progression where reader A sees it);
    * P20: another second target at baseline (T3 for T2);
    * every patient: baseline T1 differs by (i mod 5 - 2) x 0.4 mm (measurement spread).
    """
    at = {name: i for i, name in enumerate(MEASUREMENT_HEADER)}
    by_patient: dict[str, list[list[str]]] = {}
    for row in rows:
        by_patient.setdefault(row[at["patient_id"]], []).append(row)
    out: list[list[str]] = []
    for i, (pid, patient_rows) in enumerate(by_patient.items()):
        dates = sorted({r[at["date"]] for r in patient_rows})
        baseline, last = dates[0], dates[-1]
        before_last = dates[-2] if len(dates) > 2 else None
        first = {r[at["lesion_id"]]: r for r in patient_rows if r[at["date"]] == baseline}
        previous = {r[at["lesion_id"]]: r for r in patient_rows if r[at["date"]] == before_last}
        for original in patient_rows:
            row = list(original)
            lesion, date = row[at["lesion_id"]], row[at["date"]]
            if lesion == "T1" and date == baseline:
                row[at["long_axis_mm"]] = (
                    f"{float(row[at['long_axis_mm']]) + (i % 5 - 2) * 0.4:.1f}"
                )
            if pid == "P03" and row[at["role"]] == "target" and date != baseline:
                row[at["long_axis_mm"]] = f"{float(first[lesion][at['long_axis_mm']]) * 0.9:.1f}"
            if pid == "P11" and date == last and lesion in previous:
                for column in ("long_axis_mm", "state"):
                    row[at[column]] = previous[lesion][at[column]]
            if pid == "P20" and lesion == "T2":
                row[at["lesion_id"]] = "T3"
            out.append(row)
    return out


def main(out_dir: Path) -> None:
    rng = random.Random(SEED)
    ages = AGES[:]
    rng.shuffle(ages)
    out_dir.mkdir(parents=True, exist_ok=True)
    first_start = dt.date(2018, 3, 5)
    measurements: list[list[str]] = []
    clinical: list[list[str]] = []
    uptake = Uptake(SEED + 1)
    for i, p in enumerate(PATIENTS):
        start = first_start + dt.timedelta(days=37 * i)
        baseline = start - dt.timedelta(days=10)
        t1, t2 = round(rng.uniform(30, 45), 1), round(rng.uniform(18, 30), 1)
        scans = _scan_days(p.end_day)
        factors = _factors(p, len(scans), rng)
        rows = [(baseline, 1.0, "present", False)]
        for k, (day, factor) in enumerate(zip(scans, factors, strict=True)):
            last = k == len(scans) - 1
            nt = (
                "progression"
                if (last and p.progresses and p.pd_mode == "non_target")
                else "present"
            )
            new = last and p.progresses and p.pd_mode == "new"
            rows.append((start + dt.timedelta(days=day), factor, nt, new))
        for date, factor, nt_state, new in rows:
            d = date.isoformat()
            liver, spleen = uptake.references()
            refs = [f"{liver:.1f}", f"{spleen:.1f}"]

            def pet(lesion: str, f: float = factor) -> list[str]:
                return [*uptake.lesion(p.pid, lesion, f, liver, spleen), *refs]  # noqa: B023

            measurements.append(
                [
                    p.pid,
                    d,
                    "T1",
                    "target",
                    "liver",
                    "no",
                    f"{t1 * factor:.1f}",
                    "",
                    "measured",
                    *pet("T1"),
                ]
            )
            measurements.append(
                [
                    p.pid,
                    d,
                    "T2",
                    "target",
                    "liver",
                    "no",
                    f"{t2 * factor:.1f}",
                    "",
                    "measured",
                    *pet("T2"),
                ]
            )
            measurements.append(
                [
                    p.pid,
                    d,
                    "NT1",
                    "non_target",
                    "bone" if p.pid in METASTASES["bone"] else "mesentery",
                    "no",
                    "",
                    "",
                    nt_state,
                    *pet("NT1", 1.0),
                ]
            )
            if new:
                measurements.append(
                    [p.pid, d, "N1", "new", "liver", "no", "", "", "present", *pet("N1", 1.0)]
                )
        end = start + dt.timedelta(days=p.end_day)
        death = None if p.death_day is None else start + dt.timedelta(days=p.death_day)
        followup = death or start + dt.timedelta(days=max(p.end_day + 180, 1400 + 25 * i))
        clinical.append(
            [
                p.pid,
                start.isoformat(),
                followup.isoformat(),
                "" if death is None else death.isoformat(),
                "female" if p.pid in FEMALE else "male",
                str(ages[i]),
                p.primary_site,
                str(p.grade),
                str(p.line),
                *("yes" if p.pid in METASTASES[site] else "no" for site in METASTASES),
            ]
        )
        assert end <= followup
    with (out_dir / "measurements.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MEASUREMENT_HEADER)
        writer.writerows(measurements)
    with (out_dir / "measurements_reader_b.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MEASUREMENT_HEADER)
        writer.writerows(second_read(measurements))
    with (out_dir / "clinical.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            [
                "patient_id",
                "treatment_start",
                "last_followup",
                "death_date",
                "sex",
                "age",
                "primary_site",
                "who_grade",
                "line_of_therapy",
                *(f"met_{site}" for site in METASTASES),
            ]
        )
        writer.writerows(clinical)
    pids = [p.pid for p in PATIENTS]
    with (out_dir / "adverse_events.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["patient_id", "event", "category", "grade"])
        for category, event, by_grade in ADVERSE_EVENTS:
            chosen = rng.sample(pids, sum(by_grade.values()))
            for grade, count in sorted(by_grade.items()):
                for pid in sorted(chosen[:count]):
                    writer.writerow([pid, event, category, grade])
                chosen = chosen[count:]


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent))
