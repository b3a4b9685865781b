"""Writing the datasets: SAS transport v5 (``.xpt``) with pyreadstat, CSV, and define.csv.

All or nothing: every file is written into a temporary folder beside ``out`` which then replaces
``out`` by rename, so a reader never sees half a delivery. docs/cdisc.md says why pyreadstat.
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class _Text:
    """A character variable as each record's code into its distinct values (in order of first
    appearance): one pass over the records serves the transport file, the CSV and define.csv."""

    codes: np.ndarray
    distinct: list[str]


def _coded(values: np.ndarray) -> _Text:
    """A character column (an object array of ``str``) coded by its distinct values."""
    import pandas as pd

    codes, distinct = pd.factorize(values)
    return _Text(codes, cast(list[str], distinct.tolist()))


def _text_columns(spec: DatasetSpec, columns: Columns) -> dict[str, _Text]:
    """Every character variable of a dataset, coded."""
    return {v.name: _coded(columns[v.name]) for v in spec.variables if v.kind == "Char"}


def _frame(spec: DatasetSpec, columns: Columns, text: Mapping[str, _Text]):  # type: ignore[no-untyped-def]
    """The dataset as a pandas frame for pyreadstat, the variables in order: numbers as
    ``float64`` (NaN: missing), character variables as categoricals of their distinct values.

    The categoricals are the cheapest input pyreadstat takes (the same bytes as ``object``
    columns of ``str``): it reads each character column twice, once for the longest value and
    once record by record, and a categorical is turned into Python text by one ``take`` of its
    few values instead of one ``ndarray.item`` call per record (docs/cdisc.md, "Where
    pyreadstat's time goes").
    """
    import pandas as pd

    def variable(name: str):  # type: ignore[no-untyped-def]
        coded = text.get(name)
        if coded is None or not len(coded.codes):
            return columns[name]
        categories = pd.Index(coded.distinct, dtype=object)
        return pd.Categorical.from_codes(coded.codes, categories, validate=False)

    return pd.DataFrame({name: variable(name) for name in spec.names}, copy=False)


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


def _text_cells(coded: _Text) -> list[str]:
    """A character column as CSV cells, quoted as the csv module quotes: only values holding a
    comma, a quote or a line break."""
    cells = [_csv_field(v) if _NEEDS_QUOTES.search(v) else v for v in coded.distinct]
    return cast(list[str], np.array(cells, dtype=object)[coded.codes].tolist())


def _write_csv(path: Path, spec: DatasetSpec, columns: Columns, text: Mapping[str, _Text]) -> None:
    """The dataset as CSV, byte for byte what ``csv.writer`` writes (header, then one line per
    record, ``\\n`` line ends), built a column at a time."""
    cells = [
        _number_text(columns[v.name]) if v.kind == "Num" else _text_cells(text[v.name])
        for v in spec.variables
    ]
    names = list(spec.names)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(_text_cells(_Text(np.arange(len(names)), names))) + "\n")
        for start in range(0, len(cells[0]), _CSV_LINES):
            chunk = [column[start : start + _CSV_LINES] for column in cells]
            handle.write("\n".join(map(",".join, zip(*chunk, strict=True))))
            handle.write("\n")


_CSV_LINES = 100_000
"""Lines joined in memory at a time."""


def _lengths(spec: DatasetSpec, text: Mapping[str, _Text]) -> dict[str, int]:
    """Bytes of the longest value of each character variable (8 for numbers)."""
    return {
        v.name: 8
        if v.kind == "Num"
        else max((len(x.encode("utf-8")) for x in text[v.name].distinct), default=1) or 1
        for v in spec.variables
    }


def write_datasets(datasets: Mapping[str, Columns], out: Path, *, workers: int = 1) -> list[Path]:
    """Write each dataset as ``name.xpt`` and ``name.csv`` plus ``define.csv`` into ``out``.

    ``out`` must not exist, be empty, or hold an earlier delivery (it has ``define.csv``); it is
    then replaced as a whole. Returns the files written, relative to ``out``. With ``workers``
    > 1 the transport files are written by that many processes (the same bytes).

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
            written = _write_files(datasets, tmp, workers)
        os.chmod(tmp, 0o777 & ~_umask())
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def _write_xpt(
    spec: DatasetSpec, columns: Columns, text: Mapping[str, _Text], folder: Path
) -> None:
    """One dataset as SAS transport v5 with its member name, labels and date formats."""
    import pyreadstat

    pyreadstat.write_xport(
        _frame(spec, columns, text),
        str(folder / f"{spec.name.lower()}.xpt"),
        file_label=spec.label,
        column_labels=[v.label for v in spec.variables],
        table_name=spec.name,
        file_format_version=5,
        variable_format={v: "DATE9." for v in spec.names if v in SAS_DATE_VARIABLES},
    )


_FORKED: tuple[Mapping[str, Columns], Mapping[str, Mapping[str, _Text]], Path] | None = None
"""The datasets, their coded text and the folder that forked writer processes find in memory (a
fork shares them; pickling a 10,000-patient TR alone would cost more than a second)."""


def _write_forked_xpt(name: str) -> None:
    """In a forked process: write dataset ``name`` of :data:`_FORKED`."""
    assert _FORKED is not None, "only called in a process forked by _write_files"
    datasets, text, folder = _FORKED
    spec = next(spec for spec in SPECS if spec.name == name)
    with cyclic_gc_paused():
        _write_xpt(spec, datasets[name], text[name], folder)


def _write_files(datasets: Mapping[str, Columns], tmp: Path, workers: int) -> list[Path]:
    """Every file of the delivery into the folder ``tmp``; returns their names.

    With ``workers`` > 1 (and a platform that forks) the transport files are written by that
    many forked processes, largest first, while this one writes the CSV files: pyreadstat's
    per-cell loop is most of the work and each file is independent.
    """
    global _FORKED
    specs = [spec for spec in SPECS if spec.name in datasets]
    text = {spec.name: _text_columns(spec, datasets[spec.name]) for spec in specs}
    pool = None
    if workers > 1 and "fork" in multiprocessing.get_all_start_methods():
        _FORKED = (datasets, text, tmp)
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    try:
        largest_first = sorted(
            specs, key=lambda s: -len(s.names) * len(datasets[s.name][s.names[0]])
        )
        pending = (
            [pool.submit(_write_forked_xpt, spec.name) for spec in largest_first] if pool else []
        )
        written: list[Path] = []
        define_rows: list[Sequence[object]] = []
        for spec in specs:
            columns = datasets[spec.name]
            name = spec.name.lower()
            if pool is None:
                _write_xpt(spec, columns, text[spec.name], tmp)
            _write_csv(tmp / f"{name}.csv", spec, columns, text[spec.name])
            written += [Path(f"{name}.xpt"), Path(f"{name}.csv")]
            lengths = _lengths(spec, text[spec.name])
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
        for future in pending:
            future.result()  # a writer's error is raised here
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
            _FORKED = None
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
