"""Writing the datasets: SAS transport v5 (``.xpt``) with pyreadstat, CSV, and define.csv.

All or nothing: every file is written into a temporary folder beside ``out`` which then replaces
``out`` by rename, so a reader never sees half a delivery. docs/cdisc.md says why pyreadstat.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import cast

import numpy as np

from recistry._gc import cyclic_gc_paused
from recistry.cdisc._metadata import SPECS, DatasetSpec
from recistry.cdisc.datasets import Columns
from recistry.errors import InputError

__all__ = ["DEFINE_COLUMNS", "MARKER", "write_datasets"]

MARKER = "define.csv"
"""The file that makes a folder a recistry CDISC delivery (the only kind it will replace)."""

DEFINE_COLUMNS = (
    "dataset",
    "dataset_label",
    "class",
    "variable",
    "label",
    "type",
    "length",
    "codelist",
    "source",
)

SAS_DATE_VARIABLES = frozenset({"TRTSDT", "ADT", "STARTDT"})
"""Numeric SAS dates, written with the DATE9. format."""


def _frame(spec: DatasetSpec, columns: Columns):  # type: ignore[no-untyped-def]
    """The dataset as a pandas frame, the variables in order (character ones as ``object``
    columns of ``str``: pyreadstat writes those fastest)."""
    import pandas as pd

    return pd.DataFrame({name: columns[name] for name in spec.names}, copy=False)


def _number_text(values: np.ndarray) -> list[str]:
    """A numeric column as CSV text: blank when missing; whole numbers without a decimal point
    when every value of the column is whole, else Python's shortest repr (each distinct value
    formatted once)."""
    distinct, codes = np.unique(values, return_inverse=True)
    known = distinct[~np.isnan(distinct)]
    if np.array_equal(known, np.floor(known)):
        text = ["" if np.isnan(x) else str(int(x)) for x in distinct.tolist()]
    else:
        text = ["" if np.isnan(x) else repr(x) for x in distinct.tolist()]
    return cast(list[str], np.array(text, dtype=object)[codes].tolist())


_NEEDS_QUOTES = re.compile('[,"\r\n]')


def _csv_field(value: str) -> str:
    """One value as the csv module writes it (quoted, quotes doubled)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([value])
    return buffer.getvalue()


def _text_cells(values: list[str], distinct: set[str]) -> list[str]:
    """A character column as CSV cells, quoted as the csv module quotes: only values holding a
    comma, a quote or a line break (looked for among the ``distinct`` values)."""
    quoted = {v: _csv_field(v) for v in distinct if _NEEDS_QUOTES.search(v)}
    return [quoted.get(v, v) for v in values] if quoted else values


def _write_csv(
    path: Path, spec: DatasetSpec, columns: Columns, distinct: Mapping[str, set[str]]
) -> None:
    """The dataset as CSV, byte for byte what ``csv.writer`` writes (header, then one line per
    record, ``\\n`` line ends), built a column at a time."""
    cells = [
        _number_text(columns[v.name])
        if v.kind == "Num"
        else _text_cells(columns[v.name].tolist(), distinct[v.name])
        for v in spec.variables
    ]
    names = list(spec.names)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(_text_cells(names, set(names))) + "\n")
        for start in range(0, len(cells[0]), _CSV_LINES):
            chunk = [column[start : start + _CSV_LINES] for column in cells]
            handle.write("\n".join(map(",".join, zip(*chunk, strict=True))))
            handle.write("\n")


_CSV_LINES = 100_000
"""Lines joined in memory at a time."""


def _distinct_text(spec: DatasetSpec, columns: Columns) -> dict[str, set[str]]:
    """The distinct values of each character variable (few: codes, dates, identifiers)."""
    return {v.name: set(columns[v.name].tolist()) for v in spec.variables if v.kind == "Char"}


def _lengths(spec: DatasetSpec, distinct: Mapping[str, set[str]]) -> dict[str, int]:
    """Bytes of the longest value of each character variable (8 for numbers)."""
    return {
        v.name: 8
        if v.kind == "Num"
        else max((len(x.encode("utf-8")) for x in distinct[v.name]), default=1) or 1
        for v in spec.variables
    }


def write_datasets(datasets: Mapping[str, Columns], out: Path) -> list[Path]:
    """Write each dataset as ``name.xpt`` and ``name.csv`` plus ``define.csv`` into ``out``.

    ``out`` must not exist, be empty, or hold an earlier delivery (it has ``define.csv``); it is
    then replaced as a whole. Returns the files written, relative to ``out``.

    Raises
    ------
    InputError
        ``out`` holds other files, or cannot be created.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise InputError(
            "the output folder exists and is not a recistry CDISC delivery (no define.csv); "
            "choose a new folder",
            path=str(out),
        )
    parent = out.parent if str(out.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.name}.", suffix=".tmp"))
    except OSError as exc:
        raise InputError(f"cannot create the output folder: {exc.strerror}", path=str(out)) from exc
    try:
        with cyclic_gc_paused():
            written = _write_files(datasets, tmp)
        os.chmod(tmp, 0o777 & ~_umask())
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _write_files(datasets: Mapping[str, Columns], tmp: Path) -> list[Path]:
    """Every file of the delivery into the folder ``tmp``; returns their names."""
    import pyreadstat

    written: list[Path] = []
    define_rows: list[Sequence[object]] = []
    for spec in SPECS:
        if spec.name not in datasets:
            continue
        columns = datasets[spec.name]
        name = spec.name.lower()
        pyreadstat.write_xport(
            _frame(spec, columns),
            str(tmp / f"{name}.xpt"),
            file_label=spec.label,
            column_labels=[v.label for v in spec.variables],
            table_name=spec.name,
            file_format_version=5,
            variable_format={v: "DATE9." for v in spec.names if v in SAS_DATE_VARIABLES},
        )
        distinct = _distinct_text(spec, columns)
        _write_csv(tmp / f"{name}.csv", spec, columns, distinct)
        written += [Path(f"{name}.xpt"), Path(f"{name}.csv")]
        lengths = _lengths(spec, distinct)
        define_rows.extend(
            (spec.name, spec.label, spec.klass, v.name, v.label, v.kind, lengths[v.name],
             v.codelist, v.source)
            for v in spec.variables
        )  # fmt: skip
    with open(tmp / MARKER, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(DEFINE_COLUMNS)
        writer.writerows(define_rows)
    written.append(Path(MARKER))
    return written


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _replace(tmp: Path, out: Path) -> None:
    """Put the finished folder at ``out``: a rename, the earlier delivery moved aside first."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    os.replace(out, old / "previous")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / "previous", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
