"""Read measurement and clinical tables (CSV or Parquet) into the engine's values.

The column names are recistry's public contract (docs/tables.md). Validation happens here, on
the way in: every problem is an :class:`~recistry.errors.InputError` naming the file, the 1-based
data row (the header is not counted) and the column, and nothing is scored from a bad table.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd

from recistry.errors import InputError
from recistry.recist.model import (
    EMPTY_MAPPING,
    ClinicalRecord,
    LesionState,
    Measurement,
    PatientRecord,
    Role,
    Source,
)

__all__ = [
    "CLINICAL_COLUMNS",
    "MEASUREMENT_COLUMNS",
    "build_records",
    "read_clinical",
    "read_measurements",
]

log = logging.getLogger(__name__)

MEASUREMENT_COLUMNS = (
    "patient_id",
    "date",
    "lesion_id",
    "role",
    "site",
    "nodal",
    "long_axis_mm",
    "short_axis_mm",
    "state",
)
"""Required columns of a measurement table, one row per lesion per scan date."""

CLINICAL_COLUMNS = (
    "patient_id",
    "treatment_start",
    "last_followup",
    "death_date",
    "new_therapy_date",
)
"""Known columns of a clinical table; only patient_id is required, any other is a covariate."""

_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
_ROLES = {r.value: r for r in Role}
_STATES = {s.value: s for s in LesionState}


# A blank before a comma or line end: only then does any cell need stripping.
_TRAILING_BLANK = re.compile(rb"[ \t](?:,|\r?\n|$)")


def _read_frame(path: Path) -> pd.DataFrame:
    """Every cell as stripped text ('' when empty), whatever the file format."""
    if not path.exists():
        raise InputError("file not found", path=str(path))
    padded = True
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
        else:
            raw = path.read_bytes()
            # Leading blanks go with skipinitialspace; trailing ones are rare, so one C regex
            # over the bytes saves a Python-level pass over every cell of a large table.
            padded = _TRAILING_BLANK.search(raw) is not None
            frame = pd.read_csv(
                io.BytesIO(raw),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skipinitialspace=True,
                encoding="utf-8",
            )
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the table: {exc}", path=str(path)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if padded:
        for column in frame.columns:
            frame[column] = frame[column].str.strip()
    return frame


def _require(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}",
            path=str(path),
        )


def _first_bad(mask: pd.Series) -> int | None:
    """0-based position of the first True in a boolean Series, or None."""
    hits = mask.to_numpy().nonzero()[0]
    return int(hits[0]) if len(hits) else None


def _parse_dates(
    values: pd.Series, path: Path, column: str, required: bool
) -> list[dt.date | None]:
    parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")
    blank = values == ""
    # to_datetime's %Y-%m-%d also takes 2024-1-5; the contract is the ISO form YYYY-MM-DD.
    parsed = parsed.where(values.str.len() == 10)
    bad = _first_bad(parsed.isna() & ~blank)
    if bad is not None:
        raise InputError(
            f"'{values.iloc[bad]}' is not a date in the form YYYY-MM-DD",
            path=str(path),
            row=bad + 1,
            column=column,
        )
    if required:
        bad = _first_bad(blank)
        if bad is not None:
            raise InputError("date is required", path=str(path), row=bad + 1, column=column)
    cache: dict[str, dt.date | None] = {"": None}
    for text in pd.unique(values[~blank]):
        cache[text] = dt.date.fromisoformat(text)
    return [cache[text] for text in values.tolist()]


def _parse_mm(values: pd.Series, path: Path, column: str) -> list[Decimal | None]:
    """Decimal millimetres from text, exactly as written (no float round trip)."""
    numeric = pd.to_numeric(values.where(values != ""), errors="coerce")
    blank = values == ""
    bad = _first_bad((numeric.isna() & ~blank) | ~(numeric.abs() < float("inf")) & ~blank)
    if bad is not None:
        raise InputError(
            f"'{values.iloc[bad]}' is not a number of millimetres",
            path=str(path),
            row=bad + 1,
            column=column,
        )
    bad = _first_bad(numeric < 0)
    if bad is not None:
        raise InputError(
            f"size {values.iloc[bad]} mm is negative", path=str(path), row=bad + 1, column=column
        )
    cache: dict[str, Decimal | None] = {"": None}
    out: list[Decimal | None] = []
    for text in values.tolist():
        value = cache.get(text)
        if value is None and text not in cache:
            try:
                value = Decimal(text)
            except InvalidOperation as exc:  # pragma: no cover - pandas already refused it
                raise InputError(
                    f"'{text}' is not a number", path=str(path), column=column
                ) from exc
            cache[text] = value
        out.append(value)
    return out


def _parse_choice(
    values: pd.Series,
    choices: Mapping[str, object],
    path: Path,
    column: str,
    expected: str | None = None,
) -> list[object]:
    """Case-insensitive lookup of every cell in ``choices``; the first unknown one is an error."""
    lowered = values.str.lower()
    bad = _first_bad(~lowered.isin(list(choices)))
    if bad is not None:
        message = (
            f"'{values.iloc[bad]}' is not {expected}"
            if expected
            else f"unknown {column} '{values.iloc[bad]}' (use one of {', '.join(choices)})"
        )
        raise InputError(message, path=str(path), row=bad + 1, column=column)
    return [choices[v] for v in lowered.tolist()]


_BOOLEANS: Mapping[str, object] = {
    **dict.fromkeys(_TRUE, True),
    **dict.fromkeys(_FALSE, False),
}


def _require_text(frame: pd.DataFrame, column: str, path: Path) -> None:
    bad = _first_bad(frame[column] == "")
    if bad is not None:
        raise InputError(f"{column} is empty", path=str(path), row=bad + 1, column=column)


def read_measurements(path: str | Path) -> list[Measurement]:
    """Read a measurement table, one row per lesion per scan date.

    Parameters
    ----------
    path
        A CSV or Parquet file with the columns of :data:`MEASUREMENT_COLUMNS`; sizes in decimal
        millimetres, dates as YYYY-MM-DD. Any other column is passed through in
        ``Measurement.extra`` (``slice_thickness_mm`` is also read as a number).

    Raises
    ------
    InputError
        Naming the file, row and column of the first invalid value.
    """
    path = Path(path)
    frame = _read_frame(path)
    _require(frame, MEASUREMENT_COLUMNS, path)
    for column in ("patient_id", "lesion_id", "site"):
        _require_text(frame, column, path)
    dates = _parse_dates(frame["date"], path, "date", required=True)
    roles = _parse_choice(frame["role"], _ROLES, path, "role")
    states = _parse_choice(frame["state"], _STATES, path, "state")
    nodal = _parse_choice(frame["nodal"], _BOOLEANS, path, "nodal", "true/false (also yes/no, 1/0)")
    long_axis = _parse_mm(frame["long_axis_mm"], path, "long_axis_mm")
    short_axis = _parse_mm(frame["short_axis_mm"], path, "short_axis_mm")
    has_thickness = "slice_thickness_mm" in frame.columns
    thickness = (
        _parse_mm(frame["slice_thickness_mm"], path, "slice_thickness_mm")
        if has_thickness
        else [None] * len(frame)
    )
    extra_columns = [c for c in frame.columns if c not in MEASUREMENT_COLUMNS]
    extras: list[Mapping[str, str]]
    if extra_columns:
        extra_frame = frame[extra_columns]
        extras = [
            {k: v for k, v in zip(extra_columns, row, strict=True) if v != ""}
            for row in extra_frame.itertuples(index=False, name=None)
        ]
    else:
        extras = [EMPTY_MAPPING] * len(frame)
    path_text = str(path)
    return [
        Measurement(
            patient_id=pid,
            date=date,
            lesion_id=lid,
            role=role,
            site=site,
            nodal=nod,
            state=state,
            long_axis_mm=la,
            short_axis_mm=sa,
            slice_thickness_mm=th,
            extra=ex,
            source=Source(path_text, i),
        )
        for i, (pid, date, lid, role, site, nod, state, la, sa, th, ex) in enumerate(
            zip(
                frame["patient_id"].tolist(),
                dates,
                frame["lesion_id"].tolist(),
                roles,
                frame["site"].tolist(),
                nodal,
                states,
                long_axis,
                short_axis,
                thickness,
                extras,
                strict=True,
            ),
            start=1,
        )
    ]


def read_clinical(path: str | Path) -> dict[str, ClinicalRecord]:
    """Read a clinical table: patient_id, treatment_start, last_followup, death_date, covariates.

    Dates are YYYY-MM-DD; death_date is blank for a patient alive at last follow-up. Every other
    column is a covariate kept as text (primary_site, who_grade, line_of_therapy …).

    Raises
    ------
    InputError
        An unparseable date, a duplicate patient, or dates in an impossible order.
    """
    path = Path(path)
    frame = _read_frame(path)
    _require(frame, ("patient_id",), path)
    _require_text(frame, "patient_id", path)
    n = len(frame)
    columns: dict[str, list[dt.date | None]] = {}
    for column in CLINICAL_COLUMNS[1:]:
        columns[column] = (
            _parse_dates(frame[column], path, column, required=False)
            if column in frame.columns
            else [None] * n
        )
    covariate_columns = [c for c in frame.columns if c not in CLINICAL_COLUMNS]
    records: dict[str, ClinicalRecord] = {}
    for i, pid in enumerate(frame["patient_id"].tolist()):
        row = i + 1
        if pid in records:
            raise InputError(
                f"patient {pid} appears twice (first at row {records[pid].source.row})",
                path=str(path),
                row=row,
                column="patient_id",
            )
        start = columns["treatment_start"][i]
        followup = columns["last_followup"][i]
        death = columns["death_date"][i]
        new_therapy = columns["new_therapy_date"][i]
        for column, value in (
            ("last_followup", followup),
            ("death_date", death),
            ("new_therapy_date", new_therapy),
        ):
            if start is not None and value is not None and value < start:
                raise InputError(
                    f"{column} {value} is before treatment_start {start}",
                    path=str(path),
                    row=row,
                    column=column,
                )
        if death is not None and followup is not None and followup > death:
            raise InputError(
                f"last_followup {followup} is after death_date {death}",
                path=str(path),
                row=row,
                column="last_followup",
            )
        records[pid] = ClinicalRecord(
            patient_id=pid,
            treatment_start=start,
            last_followup=followup,
            death_date=death,
            covariates={c: str(frame[c].iat[i]) for c in covariate_columns},
            source=Source(str(path), row),
            new_therapy_date=new_therapy,
        )
    return records


def build_records(
    measurements: Sequence[Measurement],
    clinical: Mapping[str, ClinicalRecord] | None = None,
) -> list[PatientRecord]:
    """Group measurement rows by patient (in order of first appearance) and attach clinical data.

    Raises
    ------
    InputError
        A clinical row names a patient that has no measurements.
    """
    grouped: dict[str, list[Measurement]] = defaultdict(list)
    for m in measurements:
        grouped[m.patient_id].append(m)
    clinical = clinical or {}
    for pid, record in clinical.items():
        if pid not in grouped:
            raise InputError(
                f"patient {pid} has no rows in the measurement table",
                path=record.source.path,
                row=record.source.row,
                column="patient_id",
            )
    return [PatientRecord(pid, tuple(rows), clinical.get(pid)) for pid, rows in grouped.items()]
