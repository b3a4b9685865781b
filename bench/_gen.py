"""Deterministic synthetic measurement tables for the benchmarks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

SITES = ("liver", "liver", "right lung", "left lung", "mesenteric lymph node")


def target_table(n_patients: int, n_timepoints: int = 6, seed: int = 7) -> pd.DataFrame:
    """Five targets per patient (2 liver, 2 lung, 1 node) over ``n_timepoints`` scans 8 weeks
    apart; sizes follow a per-patient trend with noise, in 0.1 mm steps."""
    rng = np.random.default_rng(seed)
    n_les = len(SITES)
    patient = np.repeat(np.arange(n_patients), n_timepoints * n_les)
    tp = np.tile(np.repeat(np.arange(n_timepoints), n_les), n_patients)
    lesion = np.tile(np.arange(n_les), n_patients * n_timepoints)
    base = rng.uniform(15, 60, size=(n_patients, n_les))
    trend = rng.normal(-0.05, 0.12, size=n_patients)
    noise = rng.normal(0, 0.05, size=patient.size)
    size = base[patient, lesion] * np.clip(1 + trend[patient] * tp + noise * (tp > 0), 0, None)
    size = np.round(size, 1)
    start = dt.date(2022, 1, 3).toordinal()
    dates = np.array(
        [dt.date.fromordinal(start + 56 * k).isoformat() for k in range(n_timepoints)]
    )[tp]
    nodal = lesion == n_les - 1
    sizes = np.char.mod("%.1f", size)
    return pd.DataFrame(
        {
            "patient_id": np.char.add("P", np.char.zfill(patient.astype(str), 6)),
            "date": dates,
            "lesion_id": np.char.add("T", (lesion + 1).astype(str)),
            "role": "target",
            "site": np.array(SITES)[lesion],
            "nodal": np.where(nodal, "true", "false"),
            "long_axis_mm": np.where(nodal, np.char.mod("%.1f", size * 1.6), sizes),
            "short_axis_mm": np.where(nodal, sizes, ""),
            "state": "measured",
        }
    )


def write_tables(n_patients: int, folder: Path) -> tuple[Path, Path]:
    """The recistry table and the same data in pyrecist's column names."""
    frame = target_table(n_patients)
    ours = folder / f"targets_{n_patients}.csv"
    frame.to_csv(ours, index=False)
    theirs = folder / f"targets_{n_patients}_pyrecist.csv"
    counted = np.where(frame["nodal"] == "true", frame["short_axis_mm"], frame["long_axis_mm"])
    pd.DataFrame(
        {
            # pyrecist diffs whole rows, so it needs numeric patient IDs and YYYYMMDD dates.
            "patient_id": frame["patient_id"].str[1:].astype(int),
            "study_date": frame["date"].str.replace("-", "", regex=False).astype(int),
            "measurement": counted.astype(float),
            "lesion_label_alias": frame["lesion_id"],
            "lesion_category": "target",
        }
    ).to_csv(theirs, index=False)
    return ours, theirs


VARIED_LESIONS = (
    # lesion_id, role, site, nodal
    ("T1", "target", "liver", False),
    ("T2", "target", "right lung", False),
    ("N1", "target", "mesenteric lymph node", True),
    ("NT1", "non_target", "bone", False),
)


def varied_table(n_patients: int, n_timepoints: int = 6, seed: int = 11) -> pd.DataFrame:
    """A table as trial data looks: nodal and non-nodal targets, non-targets (a quarter of the
    patients have none), new lesions present and equivocal (nodal ones with a short axis),
    about 10% of patients with a missing or not-evaluable target, 5% with a split lesion, 5%
    with a merged or too-small target, baseline warnings (a small target, thick slices, a
    non-diagnostic CT) and pass-through columns; scans 8 weeks apart."""
    rng = np.random.default_rng(seed)
    n_les = len(VARIED_LESIONS)
    shape = (n_patients, n_timepoints, n_les)
    patient = np.broadcast_to(np.arange(n_patients)[:, None, None], shape).ravel()
    tp = np.broadcast_to(np.arange(n_timepoints)[None, :, None], shape).ravel()
    lesion = np.broadcast_to(np.arange(n_les)[None, None, :], shape).ravel()
    base = rng.uniform(12, 60, size=(n_patients, n_les))
    base[:, 2] = rng.uniform(15, 30, size=n_patients)  # node short axis
    small = rng.random(n_patients) < 0.03  # baseline warning: T2 below 10 mm
    base[small, 1] = rng.uniform(6, 9.9, size=small.sum())
    trend = rng.normal(-0.06, 0.14, size=n_patients)
    noise = rng.normal(0, 0.05, size=patient.size)
    size = base[patient, lesion] * np.clip(1 + trend[patient] * tp + noise * (tp > 0), 0, None)
    size = np.round(size, 1)
    role = np.array([r for _, r, _, _ in VARIED_LESIONS])[lesion]
    nodal = np.array([n for _, _, _, n in VARIED_LESIONS])[lesion]
    state = np.where(role == "target", "measured", "present").astype(object)
    follow_up = tp > 0
    target = role == "target"
    # Non-targets: mostly present, some absent, a few in unequivocal progression.
    roll = rng.random(patient.size)
    state[~target & follow_up & (roll < 0.15)] = "absent"
    state[~target & follow_up & (roll > 0.97)] = "progression"
    # Targets that shrink to nothing are absent; nodes keep their short axis.
    state[target & ~nodal & (size < 3)] = "absent"
    # 10% of patients: one target not evaluable (or its row missing) at one follow-up.
    missing_patient = rng.random(n_patients) < 0.10
    missing_tp = rng.integers(1, n_timepoints, size=n_patients)
    missing_les = rng.integers(0, 3, size=n_patients)
    hit = missing_patient[patient] & (tp == missing_tp[patient]) & (lesion == missing_les[patient])
    dropped = hit & (rng.random(patient.size) < 0.5)
    state[hit & ~dropped] = "not_evaluable"
    # 5% merged or too small (T1 or T2 at one follow-up).
    odd_patient = rng.random(n_patients) < 0.05
    odd_tp = rng.integers(1, n_timepoints, size=n_patients)
    odd = odd_patient[patient] & (tp == odd_tp[patient]) & (lesion == 1) & ~hit
    state[odd] = np.where(rng.random(patient.size) < 0.5, "merged", "too_small")[odd]
    # A quarter of the patients have no non-target.
    no_nt = rng.random(n_patients) < 0.25
    keep = ~dropped & ~(no_nt[patient] & ~target)
    measured = state == "measured"
    counted = np.where(measured, size, np.nan)
    frame = pd.DataFrame(
        {
            "patient": patient,
            "tp": tp,
            "lesion": lesion,
            "role": role,
            "nodal": nodal,
            "state": state,
            "counted": counted,
        }
    )[keep]
    # 5% of patients: T1 split into two fragments (named a and b) at one follow-up.
    split_patient = np.flatnonzero(rng.random(n_patients) < 0.05)
    split_tp = rng.integers(1, n_timepoints, size=split_patient.size)
    pieces = frame.set_index(["patient", "tp", "lesion"])
    keys = list(zip(split_patient, split_tp, [0] * split_patient.size, strict=True))
    present = pieces.index.isin(keys) & (pieces["state"] == "measured").to_numpy()
    first = pieces[present].copy()
    whole = first["counted"].to_numpy()
    first["counted"] = np.round(whole * 0.6, 1)
    second = first.copy()
    second["counted"] = np.round(whole * 0.4, 1)
    second["fragment"] = "b"
    pieces["fragment"] = ""
    pieces.loc[first.index, "counted"] = first["counted"]
    pieces.loc[first.index, "fragment"] = "a"
    frame = pd.concat([pieces.reset_index(), second.reset_index()])
    # New lesions in 12% of patients, from some follow-up on: present or equivocal, a third nodal.
    new_patient = np.flatnonzero(rng.random(n_patients) < 0.12)
    new_tp = rng.integers(1, n_timepoints, size=new_patient.size)
    new_nodal = rng.random(new_patient.size) < 0.33
    new_rows = []
    for later in range(n_timepoints):
        on = new_tp <= later
        if not on.any():
            continue
        first_seen = new_tp[on] == later
        new_rows.append(
            pd.DataFrame(
                {
                    "patient": new_patient[on],
                    "tp": later,
                    "lesion": n_les,
                    "role": "new",
                    "nodal": new_nodal[on],
                    "state": np.where(
                        first_seen & (rng.random(on.sum()) < 0.35), "equivocal", "present"
                    ),
                    "counted": np.where(
                        new_nodal[on], np.round(rng.uniform(8, 22, size=on.sum()), 1), np.nan
                    ),
                }
            )
        )
    frame = pd.concat([frame, *new_rows]).sort_values(["patient", "tp", "lesion"], kind="stable")
    frame["fragment"] = frame["fragment"].fillna("")
    start = dt.date(2022, 1, 3).toordinal()
    dates = np.array([dt.date.fromordinal(start + 56 * k).isoformat() for k in range(n_timepoints)])
    lesion_ids = np.array([i for i, _, _, _ in VARIED_LESIONS] + ["NL1"])
    sites = np.array([s for _, _, s, _ in VARIED_LESIONS] + ["liver"])
    new_sites = np.where(frame["nodal"].to_numpy(), "para-aortic lymph node", "liver")
    is_new = (frame["role"] == "new").to_numpy()
    counted_text = np.where(
        frame["counted"].isna(), "", frame["counted"].map("{:.1f}".format).to_numpy()
    )
    node = frame["nodal"].to_numpy()
    p = frame["patient"].to_numpy()
    thick = np.where(rng.random(n_patients) < 0.02, "8", "1.25")[p]
    diagnostic = np.where(rng.random(n_patients) < 0.02, "false", "true")[p]
    return pd.DataFrame(
        {
            "patient_id": np.char.add("P", np.char.zfill(p.astype(str), 6)),
            "date": dates[frame["tp"].to_numpy()],
            "lesion_id": lesion_ids[frame["lesion"].to_numpy()],
            "role": frame["role"].to_numpy(),
            "site": np.where(is_new, new_sites, sites[frame["lesion"].to_numpy()]),
            "nodal": np.where(node, "true", "false"),
            "long_axis_mm": np.where(node, "", counted_text),
            "short_axis_mm": np.where(node, counted_text, ""),
            "state": frame["state"].to_numpy(),
            "slice_thickness_mm": thick,
            "diagnostic_ct": diagnostic,
            "reader": np.where(p % 2 == 0, "dr.smith", "dr.jones"),
            "fragment": frame["fragment"].to_numpy(),
        }
    )


def write_varied(n_patients: int, folder: Path) -> Path:
    path = folder / f"varied_{n_patients}.csv"
    varied_table(n_patients).to_csv(path, index=False)
    return path


if __name__ == "__main__":
    import sys

    write_tables(int(sys.argv[1]), Path(sys.argv[2]))
    if len(sys.argv) > 3 and sys.argv[3] == "--varied":
        write_varied(int(sys.argv[1]), Path(sys.argv[2]))
