"""``recistry index``: list the patients, studies and series of a folder of DICOM files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from recistry.cli._store import add_batch_arguments, add_pseudonym_arguments, pseudonym_key

NAME = "index"
HELP = "list the DICOM patients, studies and series under a folder"
DESCRIPTION = """\
Walk ROOT (nested folders, any file names, extensionless files), read DICOM headers only and
group the files into patients -> studies (by date) -> series, with modality, description, slice
count, frame count ("multi-frame" for enhanced CT/PET and other multi-frame objects), spacing
(slice x row x column, mm), for PET the radiopharmaceutical and units, and whether the pixels can
be decoded here ("no decoder" names the transfer syntax that cannot be), so a problem shows before
the series is opened.

With --verify every CT and PET series is also loaded as the annotator loads it (all pixels
decoded, CT in HU, PET in SUVbw, every geometry and SUV check): the first series that cannot be
loaded stops the command with one line naming the file, the tag and the file's series, exit
status 2, and nothing is recorded in --store.

Files that are not DICOM are skipped and counted; a DICOM file that cannot be read is listed
with its path and the reason and never stops the walk. The exit status is 0 even then: use
--strict to exit 1 when any file could not be read.

examples:
  recistry index sample_dicom/
  recistry index /archive/export --format json > index.json
  recistry index /archive/export --store trial.db
  recistry index /archive/export --verify
  recistry index /archive/export --workers 8 --store trial.db
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("root", metavar="ROOT", type=Path, help="folder (or file) to index")
    add_pseudonym_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="what to print on stdout (default: %(default)s)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when a DICOM file could not be read",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="load every CT and PET series (decode the pixels, run every check); the first that "
        "cannot be loaded exits 2 with one line naming the file, tag and series",
    )
    parser.add_argument(
        "--store",
        type=Path,
        metavar="PATH",
        help="also record the index (patients, studies, series, instances and file paths) in "
        "this study store, so stored measurements can be followed back to their images",
    )
    add_batch_arguments(parser, unit="folder")


def run(args: argparse.Namespace) -> int:
    from recistry.imaging.discovery import index_tree

    key = pseudonym_key(args)

    index = index_tree(
        args.root,
        workers=args.workers,
        dask_address=args.dask,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    if args.verify:
        from recistry.imaging.discovery import LOADABLE_MODALITIES, load_series

        loadable = [s for _, _, s in index.iter_series() if s.modality in LOADABLE_MODALITIES]
        for series in loadable:
            load_series(series)  # a DicomError is the one-line refusal, exit 2
        print(f"verified: {len(loadable)} CT/PET series load", file=sys.stderr)
    if args.store is not None:
        from recistry.store import Store
        from recistry.store.dicom_index import save_dicom_index

        with Store(args.store) as store:
            recorded = save_dicom_index(store, index)
        print(f"recorded {recorded} instances in {args.store}", file=sys.stderr)
    if args.format == "json":
        document = index.to_dict()
        if key is not None:
            document = _pseudonymised(document, key)
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_table(index, key)
    return 1 if args.strict and index.errors else 0


def _spacing(spacing: tuple[float, float, float] | None) -> str:
    if spacing is None:
        return ""
    return " x ".join(f"{v:.3g}" for v in spacing)


def _date(value: str | None) -> str:
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value or "(no date)"


def _pseudonymised(document: Any, key: bytes, days: int = 0) -> Any:
    """The JSON index with the PS3.15 Basic Profile applied to what identifies a patient:
    patient IDs become their pseudonym, names and birth dates are emptied (Table E.1-1: Z) and
    study dates are shifted back by the patient's :func:`date_shift_days` (modified dates); file
    paths, which often hold a patient's name, are emptied."""
    from recistry.store.privacy import date_shift_days, pseudonym, shift_da

    if isinstance(document, dict):
        if isinstance(document.get("patient_id"), str):
            days = date_shift_days(document["patient_id"], key)
        out = {}
        for name, value in document.items():
            if name == "patient_id" and isinstance(value, str):
                out[name] = pseudonym(value, key)
            elif name in ("patient_name", "birth_date", "path", "root", "reason"):
                out[name] = ""  # folder and file names often name the patient
            elif name.endswith("_date") and isinstance(value, str):
                out[name] = shift_da(value, days)
            else:
                out[name] = _pseudonymised(value, key, days)
        return out
    if isinstance(document, list):
        return [_pseudonymised(v, key, days) for v in document]
    return document


def _pixels(series: Any) -> str:
    from recistry.imaging.pixels import can_decode, transfer_syntax_name

    if series.pixels_decodable is None:
        return ""
    if series.pixels_decodable:
        return "ok"
    missing = [ts for ts in series.transfer_syntax_uids if not can_decode(ts)]
    return "no decoder: " + ", ".join(transfer_syntax_name(ts) for ts in missing)


def _print_table(index: Any, key: bytes | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output is for grep and logs: do not wrap rows at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=200, soft_wrap=True)
    title = "DICOM index" if key is not None else f"DICOM index of {index.root}"
    table = Table(title=title, show_lines=False)
    columns = ("patient", "study date", "modality", "series", "slices", "frames", "spacing mm")
    for column in (*columns, "tracer", "pixels"):
        table.add_column(column, justify="right" if column in ("slices", "frames") else "left")
    for patient, study, series in index.iter_series():
        tracer = series.radiopharmaceutical or ""
        if series.units:
            tracer = f"{tracer} [{series.units}]".strip()
        number = f"#{series.series_number} " if series.series_number is not None else ""
        study_date = study.study_date
        if key is None:
            who = f"{patient.patient_id} {patient.patient_name}".strip()
        else:
            from recistry.store.privacy import date_shift_days, pseudonym, shift_da

            who = pseudonym(patient.patient_id, key)
            study_date = shift_da(study_date or "", date_shift_days(patient.patient_id, key))
        table.add_row(
            who,
            _date(study_date),
            series.modality,
            f"{number}{series.description}",
            str(series.slice_count),
            f"{series.frame_count} multi-frame" if series.multi_frame else str(series.frame_count),
            _spacing(series.spacing_mm),
            tracer,
            _pixels(series),
        )
    console.print(table)
    studies = sum(len(p.studies) for p in index.patients)
    console.print(
        f"{len(index.patients)} patient(s), {studies} study(ies), "
        f"{sum(1 for _ in index.iter_series())} series, {index.files_indexed} file(s); "
        f"{index.skipped} non-DICOM file(s) skipped; {len(index.errors)} unreadable",
        highlight=False,
    )
    for problem in index.errors if key is None else ():
        console.print(f"[yellow]unreadable[/] {problem.path}: {problem.reason}", highlight=False)
