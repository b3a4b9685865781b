"""The floor of ``rescore --format json``: the least CPU its document costs in Python tools.

Usage: python bench/_floor.py RESULTS.json TABLE.csv

``RESULTS.json`` is what ``rescore TABLE.csv --format json`` wrote. Its values are read back
(not timed) into the columns an array engine would hold once everything is computed: sizes
and percentages as integers (tenths of a mm, hundredths), dates as date32, codes as Arrow
dictionaries, the reasons and warnings as text. Then, in CPU seconds of this process:

* Arrow's bare read of ``TABLE.csv``, every column as text (the baseline of issue 10);
* the whole document made from those columns by Arrow compute kernels (no Python object per
  row), checked byte for byte against ``RESULTS.json``; made twice, the second time with the
  allocator warm;
* writing its bytes to a file;
* one reason sentence with four numbers and a date per time point, made by the same kernels
  (what each of the reasons would cost if it were built from the values);
* a compact document: the same without the reasons and the per-lesion values.

Prints one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

cpu = time.process_time
TIMEPOINT_FIELDS = (
    "date",
    "target_sum_mm",
    "change_from_baseline_pct",
    "change_from_nadir_pct",
    "nadir_mm",
    "nadir_date",
    "target_response",
    "target_response_strict",
    "non_target_response",
    "new_lesions",
    "overall_response",
    "rescored_from",
)
BEST = ("best_overall_response", "best_overall_response_unconfirmed")


def arrow_read(path: str) -> float:
    with open(path) as handle:
        names = handle.readline().strip().split(",")
    options = pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    start = cpu()
    pacsv.read_csv(path, convert_options=options)
    return cpu() - start


def _scaled(value: float | None, scale: int) -> int | None:
    return None if value is None else round(value * scale)


def _day(text: str | None) -> dt.date | None:
    return None if text is None else dt.date.fromisoformat(text)


def _offsets(owner: list[int], n: int) -> pa.Array:
    counts = np.bincount(np.asarray(owner, dtype=np.int64), minlength=n)
    return pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))


def _codes(values: list[Any]) -> pa.Array:
    return pc.dictionary_encode(pa.array(values, pa.string()))


def columns(patients: list[dict[str, Any]]) -> dict[str, Any]:
    """The document's values as columns (time points, lesions, reasons: one row each)."""
    tp: dict[str, list[Any]] = {k: [] for k in TIMEPOINT_FIELDS}
    lesion: dict[str, list[Any]] = {k: [] for k in ("lesion_id", "role", "state", "counted_mm")}
    owners: dict[str, list[int]] = {k: [] for k in ("tp", "reason", "lesion", "warning", "best")}
    reasons: list[str] = []
    warnings: list[str] = []
    best_reasons: list[str] = []
    k = 0
    for i, p in enumerate(patients):
        warnings += p["warnings"]
        owners["warning"] += [i] * len(p["warnings"])
        best_reasons += p["best_response_reasons"]
        owners["best"] += [i] * len(p["best_response_reasons"])
        for t in p["timepoints"]:
            owners["tp"].append(i)
            for f in TIMEPOINT_FIELDS:
                tp[f].append(t[f])
            reasons += t["reasons"]
            owners["reason"] += [k] * len(t["reasons"])
            for entry in t["lesions"]:
                owners["lesion"].append(k)
                for f in lesion:
                    lesion[f].append(entry[f])
            k += 1
    n = len(patients)
    col: dict[str, Any] = {
        "tp_date": pa.array([_day(x) for x in tp["date"]], pa.date32()),
        "tp_nadir_date": pa.array([_day(x) for x in tp["nadir_date"]], pa.date32()),
        "lesion_id": _codes(lesion["lesion_id"]),
        "lesion_role": _codes(lesion["role"]),
        "lesion_state": _codes(lesion["state"]),
        "counted_mm": pa.array([_scaled(x, 10) for x in lesion["counted_mm"]], pa.int64()),
        "reasons": pa.array(reasons, pa.string()),
        "warnings": pa.array(warnings, pa.string()),
        "best_reasons": pa.array(best_reasons, pa.string()),
        "patient_id": pa.array([p["patient_id"] for p in patients], pa.string()),
        "measurable": pa.array([p["measurable"] for p in patients], pa.bool_()),
        "pfs_event": pa.array([p["pfs_event"] for p in patients], pa.bool_()),
        "os_event": pa.array([p["os_event"] for p in patients], pa.bool_()),
        "tp_offsets": _offsets(owners["tp"], n),
        "reason_offsets": _offsets(owners["reason"], k),
        "lesion_offsets": _offsets(owners["lesion"], k),
        "warning_offsets": _offsets(owners["warning"], n),
        "best_offsets": _offsets(owners["best"], n),
    }
    for f in ("target_sum_mm", "nadir_mm"):
        col[f"tp_{f}"] = pa.array([_scaled(x, 10) for x in tp[f]], pa.int64())
    for f in ("change_from_baseline_pct", "change_from_nadir_pct"):
        col[f"tp_{f}"] = pa.array([_scaled(x, 100) for x in tp[f]], pa.int64())
    for f in TIMEPOINT_FIELDS[6:]:
        col[f"tp_{f}"] = _codes(tp[f])
    for f in ("baseline_date", "origin_date", "first_response_date", "progression_date"):
        col[f] = pa.array([_day(p[f]) for p in patients], pa.date32())
    col["baseline_sum_mm"] = pa.array([_scaled(p["baseline_sum_mm"], 10) for p in patients])
    for f in ("pfs_months", "os_months"):
        col[f] = pa.array([_scaled(p[f], 100) for p in patients], pa.int64())
    for f in (*BEST, "best_overall_response_confirmed"):
        col[f] = _codes([p[f] for p in patients])
    return col


def number(v: Any, digits: int) -> Any:
    """value x 10**digits as Python's repr(float) writes it (5.0, 5.02, -0.7), or null."""
    a = pc.abs(v)
    whole = pc.divide(a, 10**digits)
    frac = pc.cast(pc.subtract(a, pc.multiply(whole, 10**digits)), pa.string())
    frac = pc.utf8_rtrim(pc.utf8_lpad(frac, digits, "0"), "0")
    frac = pc.if_else(pc.equal(frac, ""), "0", frac)
    sign = pc.if_else(pc.less(v, 0), "-", "")
    return pc.fill_null(_cat(sign, pc.cast(whole, pa.string()), ".", frac), "null")


def _cat(*parts: Any) -> Any:
    return pc.binary_join_element_wise(*parts, "")


def quoted(v: Any) -> Any:
    return pc.fill_null(_cat('"', pc.cast(v, pa.string()), '"'), "null")


def text(v: Any) -> Any:
    """JSON strings (as json.dumps(ensure_ascii=False) writes them: quotes and backslashes)."""
    escaped = pc.replace_substring(pc.replace_substring(v, "\\", "\\\\"), '"', '\\"')
    return _cat('"', escaped, '"')


def flag(v: Any) -> Any:
    return pc.fill_null(pc.if_else(v, "true", "false"), "null")


def items(values: Any, offsets: Any) -> Any:
    return pc.binary_join(pa.ListArray.from_arrays(offsets, values), ", ")


def document(c: dict[str, Any], *, compact: bool = False) -> Any:
    """Every patient's JSON object followed by ', ' (the last by nothing)."""
    tp_parts = [
        '{"date": ',
        quoted(c["tp_date"]),
        ', "target_sum_mm": ',
        number(c["tp_target_sum_mm"], 1),
        ', "change_from_baseline_pct": ',
        number(c["tp_change_from_baseline_pct"], 2),
        ', "change_from_nadir_pct": ',
        number(c["tp_change_from_nadir_pct"], 2),
        ', "nadir_mm": ',
        number(c["tp_nadir_mm"], 1),
        ', "nadir_date": ',
        quoted(c["tp_nadir_date"]),
    ]
    for f in TIMEPOINT_FIELDS[6:]:
        tp_parts += [f', "{f}": ', quoted(c[f"tp_{f}"])]
    if not compact:
        lesions = _cat(
            '{"lesion_id": ',
            text(pc.cast(c["lesion_id"], pa.string())),
            ', "role": ',
            quoted(c["lesion_role"]),
            ', "state": ',
            quoted(c["lesion_state"]),
            ', "counted_mm": ',
            number(c["counted_mm"], 1),
            "}",
        )
        tp_parts += [
            ', "reasons": [',
            items(text(c["reasons"]), c["reason_offsets"]),
            '], "lesions": [',
            items(lesions, c["lesion_offsets"]),
            "]",
        ]
    timepoints = _cat(*tp_parts, "}")
    parts = [
        '{"patient_id": ',
        text(c["patient_id"]),
        ', "baseline_date": ',
        quoted(c["baseline_date"]),
        ', "origin_date": ',
        quoted(c["origin_date"]),
        ', "baseline_sum_mm": ',
        number(c["baseline_sum_mm"], 1),
        ', "measurable": ',
        flag(c["measurable"]),
        ', "warnings": [',
        items(text(c["warnings"]), c["warning_offsets"]),
        '], "timepoints": [',
        items(timepoints, c["tp_offsets"]),
        "]",
    ]
    for f in (*BEST, "best_overall_response_confirmed"):
        parts += [f', "{f}": ', quoted(c[f])]
    if not compact:
        parts += [', "best_response_reasons": [', items(text(c["best_reasons"]), c["best_offsets"])]
        parts += ["]"]
    for f in ("first_response_date", "progression_date"):
        parts += [f', "{f}": ', quoted(c[f])]
    parts += [', "pfs_months": ', number(c["pfs_months"], 2), ', "pfs_event": ']
    parts += [flag(c["pfs_event"]), ', "os_months": ', number(c["os_months"], 2)]
    parts += [', "os_event": ', flag(c["os_event"]), "}"]
    n = len(c["patient_id"])
    separators = pa.array(np.where(np.arange(n) < n - 1, ", ", ""), pa.string())
    return _cat(*parts, separators)


def write(path: str, head: bytes, body: Any, tail: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(head)
        chunks = body.chunks if isinstance(body, pa.ChunkedArray) else [body]
        for chunk in chunks:
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)
            start, end = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
            handle.write(memoryview(chunk.buffers()[2])[start:end])
        handle.write(tail)


def main() -> None:
    results, table = sys.argv[1], sys.argv[2]
    read = min(arrow_read(table) for _ in range(2))
    raw = Path(results).read_bytes()
    head = raw[: raw.index(b'"patients": [') + len(b'"patients": [')]
    tail = raw[raw.rindex(b'], "cohort": ') :]
    c = columns(json.loads(raw)["patients"])
    figures: dict[str, Any] = {"arrow_read_cpu_s": read, "document_bytes": len(raw)}
    start = cpu()
    body = document(c)
    figures["document_by_kernels_cpu_s"] = cpu() - start
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "document.json")
        start = cpu()
        write(out, head, body, tail)
        figures["write_cpu_s"] = cpu() - start
        figures["identical"] = Path(out).read_bytes() == raw
    del body
    start = cpu()
    document(c)
    figures["document_by_kernels_again_cpu_s"] = cpu() - start
    start = cpu()
    _cat(
        "SD: sum ",
        number(c["tp_target_sum_mm"], 1),
        " mm (",
        number(c["tp_change_from_baseline_pct"], 2),
        "% from baseline ",
        number(c["tp_nadir_mm"], 1),
        " mm) is neither 30% below baseline nor +20% and +5 mm over the nadir ",
        number(c["tp_nadir_mm"], 1),
        " mm of ",
        pc.cast(c["tp_nadir_date"], pa.string()),
        " (RECIST 1.1 §4.3.1)",
    )
    figures["one_reason_per_timepoint_cpu_s"] = cpu() - start
    start = cpu()
    compact = document(c, compact=True)
    figures["compact_document_cpu_s"] = cpu() - start
    figures["compact_document_bytes"] = pc.sum(pc.binary_length(compact)).as_py() + len(head)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
