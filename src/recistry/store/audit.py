"""The audit trail of one patient: every measurement behind every RECIST call, with its history.

:func:`patient_audit` builds one JSON-able document; :func:`render_text` and :func:`render_html`
present it. For each scan, in date order, the document lists the measurements in force (value,
state, reader, when measured and recorded, the image and the axis endpoints in patient mm, the
file holding the image), each with its revision history (who changed what, when, old → new),
then the sums, nadir and the engine's calls with their reasons, so a researcher can follow any
call back to the pixels it came from.
"""

from __future__ import annotations

import html
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from recistry import __version__
from recistry.errors import StoreError
from recistry.imaging.volume import Volume
from recistry.recist.model import FRAGMENT_KEY, AssessmentOptions, PatientRecord
from recistry.store.database import Store
from recistry.store.dicom_index import instance_geometries
from recistry.store.privacy import pseudonym
from recistry.store.readings import (
    _CONTENT_COLUMNS,
    chosen_readers,
    clinical_in_force,
    in_force_measurements,
    parse_point_mm,
)

_HISTORY_SQL = f"""
SELECT l.lesion_id, m.scan_date, m.fragment, m.revision, m.measurement_pk, i.recorded_at,
       i.author, i.kind, i.source, m.source_path, m.source_row,
       {", ".join("m." + c for c in _CONTENT_COLUMNS)}
FROM measurements m
JOIN lesions l ON l.lesion_pk = m.lesion_pk
JOIN patients p ON p.patient_pk = l.patient_pk
JOIN readers r ON r.reader_pk = m.reader_pk
JOIN imports i ON i.import_id = m.import_id
WHERE p.patient_id = ? AND r.name = ?
ORDER BY l.lesion_id, m.scan_date, m.revision, m.measurement_pk
"""


def _history(
    conn: sqlite3.Connection, patient_id: str, reader: str
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    endpoints: dict[int, dict[str, list[float]]] = defaultdict(dict)
    for pk, axis, *points in conn.execute(
        "SELECT e.measurement_pk, e.axis, e.x1, e.y1, e.z1, e.x2, e.y2, e.z2 "
        "FROM axis_endpoints e JOIN measurements m USING (measurement_pk) "
        "JOIN lesions l USING (lesion_pk) JOIN patients p USING (patient_pk) "
        "WHERE p.patient_id = ?",
        (patient_id,),
    ):
        endpoints[pk][f"{axis}_axis_endpoints_mm"] = points
    history: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    # The previous revision of each fragment ('' for a whole lesion) of the reading in hand.
    previous_of: dict[str, dict[str, Any]] = {}
    reading: tuple[str, str] | None = None
    for row in conn.execute(_HISTORY_SQL, (patient_id, reader)):
        (lesion_id, scan_date, fragment, revision, pk, recorded_at, author, kind, source, path,
         line) = row[:11]  # fmt: skip
        content = dict(zip(_CONTENT_COLUMNS, row[11:], strict=True))
        content.update(endpoints.get(pk, {}))
        if (lesion_id, scan_date) != reading:
            reading, previous_of = (lesion_id, scan_date), {}
        previous = previous_of.get(fragment)
        changes = []
        if previous is not None:
            for key in sorted(set(content) | set(previous)):
                if content.get(key) != previous.get(key):
                    changes.append(
                        {"field": key, "old": previous.get(key), "new": content.get(key)}
                    )
        history[(lesion_id, scan_date, fragment)].append(
            {
                "revision": revision,
                "recorded_at": recorded_at,
                "recorded_by": author,
                "import_kind": kind,
                "import_source": source,
                "source_path": path,
                "source_row": line,
                "changes": changes,
            }
        )
        previous_of[fragment] = content
    return history


def _image_files(conn: sqlite3.Connection, sop_uids: set[str]) -> dict[str, str]:
    if not sop_uids:
        return {}
    marks = ", ".join("?" * len(sop_uids))
    return dict(
        conn.execute(
            f"SELECT sop_instance_uid, path FROM instances WHERE sop_instance_uid IN ({marks})",
            sorted(sop_uids),
        ).fetchall()
    )


def _pixels(extra: Mapping[str, str], plane: Volume | None) -> dict[str, Any]:
    """Where the axis endpoints fall in the image measured on: pixel (row, column), centre-based
    indices of the slice, and how far (mm) they lie off its plane (≈ 0 when they belong to it)."""
    out: dict[str, Any] = {}
    if plane is None:
        return out
    if extra.get("frame_of_reference_uid") not in (None, plane.frame_of_reference_uid):
        out["frame_of_reference_mismatch"] = plane.frame_of_reference_uid
        return out
    for axis in ("long", "short"):
        start, end = extra.get(f"{axis}_axis_start_mm"), extra.get(f"{axis}_axis_end_mm")
        if not (start and end):
            continue
        kji = plane.patient_to_index([parse_point_mm(start), parse_point_mm(end)])
        out[f"{axis}_axis_pixels_row_column"] = [
            [round(float(j), 2), round(float(i), 2)] for _, j, i in kji
        ]
        out[f"{axis}_axis_off_plane_mm"] = round(
            float(np.max(np.abs(kji[:, 0]))) * plane.spacing_mm[0], 3
        )
    return out


def patient_audit(
    store: Store,
    patient_id: str,
    *,
    reader: str | None = None,
    options: AssessmentOptions | None = None,
    key: bytes | None = None,
) -> dict[str, Any]:
    """The audit document of one patient's read.

    Parameters
    ----------
    store
        The store.
    patient_id
        The patient.
    reader
        Audit this reader's read; by default the accepted (or only) read.
    options
        How the engine scores (the same options as ``rescore``).
    key
        Pseudonymise: the patient ID (wherever it appears, including file paths) is replaced by
        its keyed hash. The store holds no patient names, so none can appear.

    Raises
    ------
    StoreError
        The patient is not in the store, or has no read by ``reader``.
    """
    from recistry.recist.engine import assess_patient
    from recistry.results import assessment_to_dict, options_to_dict

    options = options or AssessmentOptions()
    chosen = chosen_readers(store, reader, [patient_id])
    if patient_id not in chosen:
        known = store.conn.execute(
            "SELECT 1 FROM patients WHERE patient_id = ?", (patient_id,)
        ).fetchone()
        if known is None:
            raise StoreError(f"{store.path}: no patient '{patient_id}' in the store")
        raise StoreError(f"{store.path}: reader '{reader}' has no readings of this patient")
    reader_name = chosen[patient_id]
    measurements = [
        m for m in in_force_measurements(store, reader_name) if m.patient_id == patient_id
    ]
    clinical = clinical_in_force(store).get(patient_id)
    assessment = assess_patient(PatientRecord(patient_id, tuple(measurements), clinical), options)
    summary = assessment_to_dict(assessment)
    history = _history(store.conn, patient_id, reader_name)
    sops = {m.extra["sop_instance_uid"] for m in measurements if "sop_instance_uid" in m.extra}
    files = _image_files(store.conn, sops)
    planes = instance_geometries(store, sops)
    calls = {tp["date"]: tp for tp in summary["timepoints"]}
    scans = []
    for date in sorted({m.date for m in measurements}):
        rows = []
        for m in sorted((m for m in measurements if m.date == date), key=lambda m: m.lesion_id):
            extra = m.extra
            rows.append(
                {
                    "lesion_id": m.lesion_id,
                    "fragment": extra.get(FRAGMENT_KEY),
                    "tracking_uid": extra.get("tracking_uid"),
                    "role": m.role.value,
                    "site": m.site,
                    "nodal": m.nodal,
                    "state": m.state.value,
                    "long_axis_mm": None if m.long_axis_mm is None else str(m.long_axis_mm),
                    "short_axis_mm": None if m.short_axis_mm is None else str(m.short_axis_mm),
                    "counted_axis_mm": None
                    if m.counted_axis_mm is None
                    else str(m.counted_axis_mm),
                    "suv_max": extra.get("suv_max"),
                    "suv_peak": extra.get("suv_peak"),
                    "krenning": extra.get("krenning"),
                    "reader": extra.get("reader"),
                    "tool": extra.get("tool"),
                    "measured_at": extra.get("measured_at"),
                    "image": {
                        "study_uid": extra.get("study_uid"),
                        "series_uid": extra.get("series_uid"),
                        "sop_instance_uid": extra.get("sop_instance_uid"),
                        "file": files.get(extra.get("sop_instance_uid", "")),
                        "frame_of_reference_uid": extra.get("frame_of_reference_uid"),
                        "long_axis_mm_lps": [
                            extra.get("long_axis_start_mm"),
                            extra.get("long_axis_end_mm"),
                        ],
                        "short_axis_mm_lps": [
                            extra.get("short_axis_start_mm"),
                            extra.get("short_axis_end_mm"),
                        ],
                        # A lesion located by a point (non-target, new lesion): LPS mm.
                        "location_mm_lps": extra.get("location_mm"),
                        **_pixels(extra, planes.get(extra.get("sop_instance_uid", ""))),
                    },
                    "history": history.get(
                        (m.lesion_id, date.isoformat(), extra.get(FRAGMENT_KEY, "")), []
                    ),
                }
            )
        iso = date.isoformat()
        scans.append(
            {
                "date": iso,
                "baseline": iso == summary["baseline_date"],
                "measurements": rows,
                "assessment": calls.get(iso),
            }
        )
    document: dict[str, Any] = {
        "patient_id": patient_id,
        "reader": reader_name,
        "store": str(store.path),
        "generated_by": f"recistry {__version__}",
        "options": options_to_dict(options),
        "baseline_date": summary["baseline_date"],
        "baseline_sum_mm": summary["baseline_sum_mm"],
        "warnings": summary["warnings"],
        "scans": scans,
        "best_overall_response": summary["best_overall_response"],
        "best_response_reasons": summary["best_response_reasons"],
        "progression_date": summary["progression_date"],
    }
    if key is not None:
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(patient_id)}(?![A-Za-z0-9])")
        document = _replace_text(document, pattern, pseudonym(patient_id, key))
        document["pseudonymised"] = True
    return document


def _replace_text(value: Any, pattern: re.Pattern[str], new: str, key: str = "") -> Any:
    """Replace the patient ID wherever it stands as a token (in paths, reasons …), but never
    inside a UID or a date, where a short ID could match digits."""
    if isinstance(value, str):
        if key.endswith("uid") or key.endswith("date") or key.endswith("_at"):
            return value
        return pattern.sub(new, value)
    if isinstance(value, dict):
        return {k: _replace_text(v, pattern, new, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_text(v, pattern, new, key) for v in value]
    return value


def _value(v: Any) -> str:
    return "—" if v is None or v == "" else str(v)


def _measurement_line(row: dict[str, Any]) -> str:
    size = row["counted_axis_mm"]
    axes = f"LA {_value(row['long_axis_mm'])} / SA {_value(row['short_axis_mm'])} mm"
    label = row["lesion_id"] + (f" ({row['fragment']})" if row.get("fragment") else "")
    return (
        f"{label:<8} {row['role']:<10} {row['site']:<14} {row['state']:<13} "
        f"counted {_value(size):>7} mm  ({axes})  reader {_value(row['reader'])}"
    )


def render_text(document: dict[str, Any]) -> str:
    """The audit as plain text for a terminal (one block per scan)."""
    out = [
        f"Audit of patient {document['patient_id']} — reader {document['reader']} — "
        f"{document['generated_by']}",
        f"Store: {document['store']}",
        f"Baseline {document['baseline_date']}: sum {_value(document['baseline_sum_mm'])} mm",
    ]
    out += [f"  warning: {w}" for w in document["warnings"]]
    for scan in document["scans"]:
        out.append("")
        out.append(f"== {scan['date']}{' (baseline)' if scan['baseline'] else ''}")
        for row in scan["measurements"]:
            out.append("  " + _measurement_line(row))
            image = row["image"]
            if image["sop_instance_uid"]:
                out.append(f"      image {image['sop_instance_uid']} ({_value(image['file'])})")
            for axis in ("long", "short"):
                lps = image[f"{axis}_axis_mm_lps"]
                if lps[0]:
                    line = f"      {axis} axis LPS mm: {lps[0]} → {lps[1]}"
                    pixels = image.get(f"{axis}_axis_pixels_row_column")
                    if pixels:
                        line += (
                            f"; pixels (row, column) {pixels[0]} → {pixels[1]}, "
                            f"{image[f'{axis}_axis_off_plane_mm']} mm off the slice"
                        )
                    out.append(line)
            if image.get("location_mm_lps"):
                out.append(f"      located at LPS mm: {image['location_mm_lps']}")
            if "frame_of_reference_mismatch" in image:
                out.append(
                    "      warning: the endpoints' frame of reference is not the image's "
                    f"({image['frame_of_reference_mismatch']})"
                )
            for rev in row["history"]:
                what = (
                    "first recorded"
                    if not rev["changes"]
                    else "; ".join(
                        f"{c['field']}: {_value(c['old'])} → {_value(c['new'])}"
                        for c in rev["changes"]
                    )
                )
                where = rev["source_path"] or rev["import_source"]
                if rev["source_row"]:
                    where += f" row {rev['source_row']}"
                out.append(
                    f"      rev {rev['revision']} {rev['recorded_at']} by {rev['recorded_by']} "
                    f"from {where}: {what}"
                )
        call = scan["assessment"]
        if call is not None:
            out.append(
                f"  sum {_value(call['target_sum_mm'])} mm, nadir {_value(call['nadir_mm'])} mm "
                f"({_value(call['nadir_date'])}), change from baseline "
                f"{_value(call['change_from_baseline_pct'])} %, from nadir "
                f"{_value(call['change_from_nadir_pct'])} %"
            )
            out.append(
                f"  target {_value(call['target_response'])}, non-target "
                f"{_value(call['non_target_response'])}, new lesions {call['new_lesions']} → "
                f"overall {call['overall_response']}"
            )
            out += [f"    · {reason}" for reason in call["reasons"]]
    out.append("")
    out.append(f"Best overall response: {document['best_overall_response']}")
    out += [f"  · {reason}" for reason in document["best_response_reasons"]]
    return "\n".join(out) + "\n"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em;color:#1b1f24}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ccd}
table{border-collapse:collapse;margin:.5em 0;width:100%} th,td{border:1px solid #ccd;
padding:3px 6px;text-align:left;vertical-align:top} th{background:#eef1f6}
.num{text-align:right;font-variant-numeric:tabular-nums} .call{background:#f6f8fa;padding:.6em;
border-left:4px solid #3b6ea8} .uid{font-family:ui-monospace,monospace;font-size:.85em;
word-break:break-all;min-width:26em} ul{margin:.2em 0;padding-left:1.2em}
.hist{font-size:.9em;color:#444;min-width:18em} .label{color:#667;font-family:system-ui}
"""


def render_html(document: dict[str, Any]) -> str:
    """The audit as one self-contained HTML file (inline CSS, no scripts, no external links)."""
    e = html.escape

    def cell(v: Any, cls: str = "") -> str:
        attr = f' class="{cls}"' if cls else ""
        return f"<td{attr}>{e(_value(v))}</td>"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>recistry audit — {e(document['patient_id'])}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Audit of patient {e(document['patient_id'])}</h1>",
        f"<p>Reader <b>{e(document['reader'])}</b> · store <code>{e(document['store'])}</code> · "
        f"{e(document['generated_by'])} · options <code>"
        f"{e(json.dumps(document['options'], sort_keys=True))}</code></p>",
        f"<p>Baseline {e(_value(document['baseline_date']))}: sum of diameters "
        f"{e(_value(document['baseline_sum_mm']))} mm</p>",
    ]
    if document["warnings"]:
        parts.append("<ul>" + "".join(f"<li>{e(w)}</li>" for w in document["warnings"]) + "</ul>")
    for scan in document["scans"]:
        parts.append(f"<h2>{e(scan['date'])}{' — baseline' if scan['baseline'] else ''}</h2>")
        parts.append(
            "<table><tr><th>Lesion</th><th>Role</th><th>Site</th><th>State</th>"
            "<th>Counted mm</th><th>Long / short mm</th><th>SUVmax</th><th>Krenning</th>"
            "<th>Reader · measured</th><th>Image (SOP Instance UID, file, LPS mm)</th>"
            "<th>Revision history</th></tr>"
        )
        for row in scan["measurements"]:
            image = row["image"]
            geometry = "".join(
                f"<br>{axis}: {e(image[f'{axis}_axis_mm_lps'][0])} → "
                f"{e(image[f'{axis}_axis_mm_lps'][1])}"
                + (
                    f" (pixels {e(str(image[f'{axis}_axis_pixels_row_column']))}, "
                    f"{e(str(image[f'{axis}_axis_off_plane_mm']))} mm off the slice)"
                    if f"{axis}_axis_pixels_row_column" in image
                    else ""
                )
                for axis in ("long", "short")
                if image[f"{axis}_axis_mm_lps"][0]
            )
            history = "".join(
                f"<li>rev {rev['revision']} · {e(rev['recorded_at'])} · {e(rev['recorded_by'])} · "
                f"{e(rev['source_path'] or rev['import_source'])}"
                f"{' row ' + str(rev['source_row']) if rev['source_row'] else ''}: "
                + (
                    "first recorded"
                    if not rev["changes"]
                    else "; ".join(
                        f"{e(c['field'])} {e(_value(c['old']))} → {e(_value(c['new']))}"
                        for c in rev["changes"]
                    )
                )
                + "</li>"
                for rev in row["history"]
            )
            parts.append(
                "<tr>"
                + cell(row["lesion_id"])
                + cell(row["role"])
                + cell(row["site"] + (" (nodal)" if row["nodal"] else ""))
                + cell(row["state"])
                + cell(row["counted_axis_mm"], "num")
                + cell(f"{_value(row['long_axis_mm'])} / {_value(row['short_axis_mm'])}", "num")
                + cell(row["suv_max"], "num")
                + cell(row["krenning"], "num")
                + cell(f"{_value(row['reader'])} · {_value(row['measured_at'])}")
                + f'<td class="uid"><span class="label">UID</span> '
                f"{e(_value(image['sop_instance_uid']))}"
                f'<br><span class="label">file</span> {e(_value(image["file"]))}{geometry}</td>'
                + f'<td class="hist"><ul>{history}</ul></td></tr>'
            )
        parts.append("</table>")
        call = scan["assessment"]
        if call is not None:
            parts.append(
                '<div class="call">'
                f"Sum {e(_value(call['target_sum_mm']))} mm · "
                f"nadir {e(_value(call['nadir_mm']))} mm "
                f"({e(_value(call['nadir_date']))}) · change from baseline "
                f"{e(_value(call['change_from_baseline_pct']))} % · from nadir "
                f"{e(_value(call['change_from_nadir_pct']))} %<br>"
                f"Target <b>{e(_value(call['target_response']))}</b> · non-target "
                f"<b>{e(_value(call['non_target_response']))}</b> · new lesions "
                f"{e(str(call['new_lesions']))} → overall <b>{e(str(call['overall_response']))}</b>"
                "<ul>" + "".join(f"<li>{e(r)}</li>" for r in call["reasons"]) + "</ul></div>"
            )
    parts.append(
        f"<h2>Best overall response: {e(str(document['best_overall_response']))}</h2><ul>"
        + "".join(f"<li>{e(r)}</li>" for r in document["best_response_reasons"])
        + "</ul></body></html>"
    )
    return "\n".join(parts) + "\n"


def audit_json(document: dict[str, Any]) -> str:
    """The audit document as indented JSON."""
    return json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"


__all__ = ["audit_json", "patient_audit", "render_html", "render_text"]
