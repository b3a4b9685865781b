"""Read measurement and clinical tables (CSV or Parquet) into the engine's values.

The column names are recistry's public contract (docs/tables.md). Validation happens here, on
the way in: every problem is an :class:`~recistry.errors.InputError` naming the file, the 1-based
data row (the header is not counted) and the column, and nothing is scored from a bad table.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import logging
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
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
    fast_constructor,
)

__all__ = [
    "CLINICAL_COLUMNS",
    "MEASUREMENT_COLUMNS",
    "MeasurementTable",
    "build_records",
    "check_clinical",
    "measurement_table_from_frame",
    "read_clinical",
    "read_measurement_table",
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


# A cell can start or end with a blank only where a space touches a comma or a line break
# (" ," ", " " \n" " \r" "\n ": or inside quotes, where it costs a needless strip) or where
# there is a tab.
_SPACE, _TAB = ord(" "), b"\t"
_SEPARATORS_BEFORE = np.array([ord(","), ord("\n")], dtype=np.uint8)
_SEPARATORS_AFTER = np.array([ord(","), ord("\n"), ord("\r")], dtype=np.uint8)
_BLOCK_BYTES = 1 << 24


def _has_padding(path: Path) -> bool:
    """Whether any cell of a CSV may start or end with a blank, read a block at a time (a
    large table is never held as bytes and as columns at once).

    Only the bytes beside each space are looked at (numpy): six substring scans of the whole
    file took twice as long as Arrow's read of it.
    """
    with path.open("rb") as handle:
        previous = b"\n"
        while block := handle.read(_BLOCK_BYTES):
            if _TAB in block:
                return True
            window = np.frombuffer(previous[-1:] + block, dtype=np.uint8)  # pairs may straddle
            spaces = np.flatnonzero(window == _SPACE)
            before = window[spaces[spaces > 0] - 1]
            after = window[spaces[spaces < len(window) - 1] + 1]
            if np.isin(before, _SEPARATORS_BEFORE).any() or np.isin(after, _SEPARATORS_AFTER).any():
                return True
            previous = block
    return False


def _read_frame(path: Path) -> pd.DataFrame:
    """Every cell as stripped text ('' when empty), whatever the file format."""
    if not path.exists():
        raise InputError("file not found", path=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame = frame.astype(object).where(frame.notna(), "").astype(str)
            padded = True
        else:
            from_arrow = _read_csv_arrow(path)
            if from_arrow is not None:
                frame, padded = from_arrow, _has_padding(path)
            else:
                raw = path.read_bytes()
                raw.decode("utf-8")  # the row and column of a bad byte are named below
                padded = True
                frame = pd.read_csv(
                    io.BytesIO(raw),
                    dtype=str,
                    keep_default_na=False,
                    na_filter=False,
                    skipinitialspace=True,
                    encoding="utf-8",
                )
    except UnicodeDecodeError as exc:
        raise _not_utf8(path.read_bytes(), exc, path) from None
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read the table: {exc}", path=str(path)) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if padded:
        for column in frame.columns:
            frame[column] = frame[column].str.strip()
    return frame


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, path: Path) -> InputError:
    """The row and column of the first byte that is not UTF-8 (not its byte offset)."""
    try:
        raw.decode("utf-8")
        offset = 0
    except UnicodeDecodeError as first:
        offset = first.start
    line_start = raw.rfind(b"\n", 0, offset) + 1
    row = raw.count(b"\n", 0, line_start)
    try:
        header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8-sig", "replace")]), [])
        before = raw[line_start:offset].decode("utf-8", "replace")
        index = len(next(csv.reader([before]), [""])) - 1 if before else 0
    except csv.Error:  # not a table at all (binary data)
        header, index = [], -1
    column = header[index].strip() if row and 0 <= index < len(header) else None
    return InputError(
        f"byte 0x{raw[offset]:02x} is not valid utf-8 text; save the file as UTF-8",
        path=str(path),
        row=row or None,
        column=column,
    )


def _read_csv_arrow(path: Path) -> pd.DataFrame | None:
    """Every column of a CSV as text (unstripped), parsed by Arrow's CSV reader (several times
    faster than pandas' on a large table) straight from the file.

    Columns are Arrow ``large_string``, which pandas' Arrow-backed strings hold without a copy.
    Returns ``None`` for a header it does not take (repeated or empty column names), which
    pandas' reader then reads.

    Raises
    ------
    InputError
        A row whose number of cells differs from the header's, named by its row.
    UnicodeDecodeError
        The file is not UTF-8 text.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with path.open("rb") as handle:
        first_line = handle.readline().rstrip(b"\r\n")
    try:
        names = next(csv.reader([first_line.decode("utf-8-sig")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        return None
    if len(set(names)) != len(names) or not all(names):
        return None
    try:
        table = pacsv.read_csv(
            pa.input_stream(str(path), compression=None),  # the bytes as they are, never gunzipped
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        _find_bad_row(path.read_bytes(), len(names), path)
        return None
    if table.column_names != names:
        return None
    frame: pd.DataFrame = table.to_pandas(
        types_mapper=lambda t: pd.StringDtype("pyarrow") if t == pa.large_string() else None
    )
    return frame


def _find_bad_row(raw: bytes, width: int, path: Path) -> None:
    """Raise for the first row (blank lines skipped) without ``width`` cells."""
    rows = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    try:
        next(rows, None)
    except csv.Error as exc:
        raise InputError(f"cannot read the header: {exc}", path=str(path)) from None
    number = 0
    while True:
        try:
            cells = next(rows, None)
        except csv.Error as exc:
            # e.g. a cell over the csv module's field limit (128 kB): no table has one.
            raise InputError(
                f"cannot read the row: {exc}", path=str(path), row=number + 1
            ) from None
        if cells is None:
            return
        if not cells:
            continue
        number += 1
        if len(cells) != width:
            raise InputError(
                f"{len(cells)} cells where the header has {width} columns",
                path=str(path),
                row=number,
            )


def _require(frame: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}",
            path=str(path),
        )


def _first_bad(mask: pd.Series) -> int | None:
    """0-based position of the first True in a boolean Series, or None."""
    hits = mask.to_numpy(dtype=bool, na_value=False).nonzero()[0]
    return int(hits[0]) if len(hits) else None


def _first_bad_code(codes: np.ndarray, bad_uniques: np.ndarray) -> int | None:
    """0-based row of the first cell whose factorized value is bad.

    ``pd.factorize`` numbers values in order of first appearance, so the first row with a bad
    value is the first occurrence of the bad value with the lowest code.
    """
    bad = np.flatnonzero(bad_uniques)
    if not len(bad):
        return None
    return int(np.argmax(codes == bad[0]))


def _factorize(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(each row's code, the distinct values in order of first appearance), as ``pd.factorize``
    numbers them; int32 codes (half the memory of pandas' int64 on millions of rows)."""
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow":
        # Arrow's dictionary encoding as pandas calls it, without its two conversions of the
        # codes (int32 -> intp -> int32) and with the distinct values read at once.
        encoded = values.array.__arrow_array__().dictionary_encode().combine_chunks()
        if encoded.indices.null_count == 0:
            return encoded.indices.to_numpy(), encoded.dictionary.to_pylist()
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int32, copy=False), [str(u) for u in uniques]


@dataclass(frozen=True, slots=True)
class _Parsed:
    """A column parsed once per distinct value: ``values[codes[i]]`` is row i's value."""

    codes: np.ndarray
    values: list[Any]

    def tolist(self, rows: np.ndarray | None = None) -> list[Any]:
        """The value of every row (or of ``rows``), sharing the distinct value objects."""
        codes = self.codes if rows is None else self.codes[rows]
        return list(map(self.values.__getitem__, codes.tolist()))


def _parse_dates(values: pd.Series, path: Path, column: str, required: bool) -> _Parsed:
    codes, texts = _factorize(values)
    uniques = pd.Series(texts, dtype=object)
    parsed = pd.to_datetime(uniques, format="%Y-%m-%d", errors="coerce")
    blank = (uniques == "").to_numpy()
    # to_datetime's %Y-%m-%d also takes 2024-1-5; the contract is the ISO form YYYY-MM-DD.
    parsed = parsed.where(uniques.str.len() == 10)
    bad = _first_bad_code(codes, parsed.isna().to_numpy() & ~blank)
    if bad is not None:
        raise InputError(
            f"'{values.iloc[bad]}' is not a date in the form YYYY-MM-DD",
            path=str(path),
            row=bad + 1,
            column=column,
        )
    if required:
        bad = _first_bad_code(codes, blank)
        if bad is not None:
            raise InputError("date is required", path=str(path), row=bad + 1, column=column)
    dates = [None if text == "" else dt.date.fromisoformat(text) for text in texts]
    return _Parsed(codes, dates)


MAX_SIZE_MM = 10_000
"""Largest size accepted in a table (mm): ten metres, far beyond any lesion or slice."""

MAX_SIZE_CHARS = 20
"""Longest size text accepted (characters), so every sum stays exact in 28 decimal digits."""


def _parse_mm(values: pd.Series, path: Path, column: str) -> _Parsed:
    """Decimal millimetres from text, exactly as written (no float round trip)."""
    codes, texts = _factorize(values)
    uniques = pd.Series(texts, dtype=object)
    blank = (uniques == "").to_numpy()
    numeric = pd.to_numeric(uniques.where(~blank), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        bad = _first_bad_code(codes, (np.isnan(numeric) | ~(np.abs(numeric) < np.inf)) & ~blank)
    if bad is not None:
        raise InputError(
            f"'{values.iloc[bad]}' is not a number of millimetres",
            path=str(path),
            row=bad + 1,
            column=column,
        )
    with np.errstate(invalid="ignore"):
        bad = _first_bad_code(codes, numeric < 0)
    if bad is not None:
        raise InputError(
            f"size {values.iloc[bad]} mm is negative", path=str(path), row=bad + 1, column=column
        )
    # Exact decimal arithmetic has 28 significant digits: a size must stay far inside them.
    too_long = np.array([len(t) > MAX_SIZE_CHARS for t in texts], dtype=bool)
    with np.errstate(invalid="ignore"):
        bad = _first_bad_code(codes, (numeric > MAX_SIZE_MM) | too_long)
    if bad is not None:
        raise InputError(
            f"size '{values.iloc[bad]}' mm is out of range (at most {MAX_SIZE_MM} mm and "
            f"{MAX_SIZE_CHARS} characters)",
            path=str(path),
            row=bad + 1,
            column=column,
        )
    sizes: list[Decimal | None] = []
    for text in texts:
        try:
            sizes.append(None if text == "" else Decimal(text))
        except InvalidOperation as exc:  # pragma: no cover - pandas already refused it
            raise InputError(f"'{text}' is not a number", path=str(path), column=column) from exc
    return _Parsed(codes, sizes)


def _parse_choice(
    values: pd.Series,
    choices: Mapping[str, object],
    path: Path,
    column: str,
    expected: str | None = None,
) -> _Parsed:
    """Case-insensitive lookup of every cell in ``choices``; the first unknown one is an error."""
    codes, texts = _factorize(values)
    lowered = [text.lower() for text in texts]
    bad = _first_bad_code(codes, np.array([text not in choices for text in lowered], dtype=bool))
    if bad is not None:
        message = (
            f"'{values.iloc[bad]}' is not {expected}"
            if expected
            else f"unknown {column} '{values.iloc[bad]}' (use one of {', '.join(choices)})"
        )
        raise InputError(message, path=str(path), row=bad + 1, column=column)
    return _Parsed(codes, [choices[text] for text in lowered])


_BOOLEANS: Mapping[str, object] = {
    **dict.fromkeys(_TRUE, True),
    **dict.fromkeys(_FALSE, False),
}


def _require_text(frame: pd.DataFrame, column: str, path: Path) -> None:
    bad = _first_bad(frame[column] == "")
    if bad is not None:
        raise InputError(f"{column} is empty", path=str(path), row=bad + 1, column=column)


# One value per row of a table of millions: built without the per-field cost of a frozen
# dataclass's __init__.
_measurement = fast_constructor(Measurement)
_source = fast_constructor(Source)


@dataclass(frozen=True, slots=True)
class MeasurementTable:
    """A validated measurement table, kept as columns.

    ``frame`` holds the text columns (patient_id, lesion_id, site and the pass-through ones);
    the parsed columns are codes into their distinct values. :meth:`measurements` builds the
    engine's row values (for all rows or some).
    """

    path: Path
    frame: pd.DataFrame
    dates: _Parsed
    roles: _Parsed
    states: _Parsed
    nodal: _Parsed
    long_axis: _Parsed
    short_axis: _Parsed
    thickness: _Parsed

    def __len__(self) -> int:
        return len(self.frame)

    def patients(self) -> tuple[np.ndarray, list[str]]:
        """(each row's patient as an index into the list, the patients in order of first
        appearance)."""
        return _factorize(self.frame["patient_id"])

    def measurements(self, rows: np.ndarray | None = None) -> list[Measurement]:
        """One :class:`Measurement` per row, or per row of ``rows`` (0-based, ascending)."""
        frame = self.frame
        numbers = range(1, len(frame) + 1) if rows is None else (rows + 1).tolist()

        if rows is None or (len(rows) and rows[-1] - rows[0] + 1 == len(rows)):
            # all rows, or one run of them (a table grouped by patient): a slice, not a copy
            run = slice(None) if rows is None else slice(int(rows[0]), int(rows[-1]) + 1)

            def column(name: str) -> list[Any]:
                return list(frame[name].array[run].to_numpy())
        else:

            def column(name: str) -> list[Any]:
                # Only these rows become Python text (a column may be held by Arrow, compactly).
                return list(frame[name].array.take(rows).to_numpy())

        extra_columns = [c for c in frame.columns if c not in MEASUREMENT_COLUMNS]
        extras: Iterable[Mapping[str, str]]
        if extra_columns:
            # Rows with the same pass-through values share one (read-only) mapping.
            shared: dict[tuple[str, ...], Mapping[str, str]] = {}
            extras = [
                shared.get(row)
                or shared.setdefault(
                    row, {k: v for k, v in zip(extra_columns, row, strict=True) if v != ""}
                )
                for row in zip(*(column(c) for c in extra_columns), strict=True)
            ]
        else:
            extras = [EMPTY_MAPPING] * len(numbers)
        # the columns in the order of Measurement's fields, one value of each per row
        return list(
            map(
                _measurement,
                column("patient_id"),
                self.dates.tolist(rows),
                column("lesion_id"),
                self.roles.tolist(rows),
                column("site"),
                self.nodal.tolist(rows),
                self.states.tolist(rows),
                self.long_axis.tolist(rows),
                self.short_axis.tolist(rows),
                self.thickness.tolist(rows),
                extras,
                map(_source, itertools.repeat(str(self.path)), numbers),
            )
        )


def read_measurement_table(path: str | Path) -> MeasurementTable:
    """Read and validate a measurement table; rows become values only when asked for.

    Raises
    ------
    InputError
        Naming the file, row and column of the first invalid value.
    """
    path = Path(path)
    return measurement_table_from_frame(_read_frame(path), path)


def measurement_table_from_frame(frame: pd.DataFrame, path: str | Path) -> MeasurementTable:
    """Validate a frame of text cells ('' when empty), as a table file reads, into a table.

    ``path`` names where the rows came from in error messages (e.g. a store and its reader).
    """
    path = Path(path)
    _require(frame, MEASUREMENT_COLUMNS, path)
    for column in ("patient_id", "lesion_id", "site"):
        _require_text(frame, column, path)
    dates = _parse_dates(frame["date"], path, "date", required=True)
    roles = _parse_choice(frame["role"], _ROLES, path, "role")
    states = _parse_choice(frame["state"], _STATES, path, "state")
    nodal = _parse_choice(frame["nodal"], _BOOLEANS, path, "nodal", "true/false (also yes/no, 1/0)")
    long_axis = _parse_mm(frame["long_axis_mm"], path, "long_axis_mm")
    short_axis = _parse_mm(frame["short_axis_mm"], path, "short_axis_mm")
    thickness = (
        _parse_mm(frame["slice_thickness_mm"], path, "slice_thickness_mm")
        if "slice_thickness_mm" in frame.columns
        else _Parsed(np.zeros(len(frame), dtype=np.intp), [None])
    )
    # The parsed columns live on as codes; their text would only double the table's memory.
    parsed = ["date", "role", "state", "nodal", "long_axis_mm", "short_axis_mm"]
    return MeasurementTable(
        path,
        frame.drop(columns=parsed),
        dates,
        roles,
        states,
        nodal,
        long_axis,
        short_axis,
        thickness,
    )


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
    return read_measurement_table(path).measurements()


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
            _parse_dates(frame[column], path, column, required=False).tolist()
            if column in frame.columns
            else [None] * n
        )
    # Each covariate column as a list once: a cell read by position costs a pandas lookup.
    covariates = {c: frame[c].tolist() for c in frame.columns if c not in CLINICAL_COLUMNS}
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
            covariates={c: str(values[i]) for c, values in covariates.items()},
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
    check_clinical(grouped, clinical)
    return [PatientRecord(pid, tuple(rows), clinical.get(pid)) for pid, rows in grouped.items()]


def check_clinical(patient_ids: Container[str], clinical: Mapping[str, ClinicalRecord]) -> None:
    """Every clinical row must name a patient of the measurement table.

    Raises
    ------
    InputError
        Naming the clinical file and row of the first unknown patient.
    """
    for pid, record in clinical.items():
        if pid not in patient_ids:
            raise InputError(
                f"patient {pid} has no rows in the measurement table",
                path=record.source.path,
                row=record.source.row,
                column="patient_id",
            )
