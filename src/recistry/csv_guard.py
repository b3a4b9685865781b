"""Neutralising spreadsheet formulas in the CSV files recistry writes (CSV injection).

A patient ID, site or covariate copied from an input table into ``patients.csv`` could start
with ``=``, ``+``, ``-`` or ``@`` and be run as a formula when the file is opened in a
spreadsheet (``=HYPERLINK(...)``, ``=cmd|...``). Following the OWASP "CSV Injection" rule, every
text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
single quote ``'``, which spreadsheets show as text and do not evaluate.

Numbers are data, not formulas: a cell that is a Python number, or text that is a plain decimal
number (``-12.5``, ``+3``, ``-1.5e-3``), is written unchanged, so numeric columns such as
``best_change_pct`` keep their negative values. Every CSV writer of recistry (``rescore
--format csv``, ``rescore --out``, the report's tables) calls :func:`guard_rows`; pipelines that
want the raw text turn the guard off with ``--no-csv-guard`` (:func:`csv_guard`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar

__all__ = ["FORMULA_PREFIXES", "csv_guard", "guard_cell", "guard_rows"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""

_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

_enabled: ContextVar[bool] = ContextVar("recistry_csv_guard", default=True)


@contextlib.contextmanager
def csv_guard(enabled: bool) -> Iterator[None]:
    """Turn the guard on or off for the CSV written inside the ``with`` block."""
    token = _enabled.set(enabled)
    try:
        yield
    finally:
        _enabled.reset(token)


def guard_cell(value: object) -> object:
    """``value``, with ``'`` in front when it is text a spreadsheet would run as a formula."""
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def guard_rows(rows: Iterable[Sequence[object]]) -> Iterable[Sequence[object]]:
    """Rows with every cell passed through :func:`guard_cell` (unchanged when turned off)."""
    if not _enabled.get():
        return rows
    return [[guard_cell(v) for v in row] for row in rows]
