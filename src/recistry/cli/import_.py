"""``recistry import``: load measurement tables, clinical tables and SR files into a store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from recistry.cli._store import add_batch_arguments, add_store_argument
from recistry.errors import InputError

if TYPE_CHECKING:
    from recistry.recist.model import ClinicalRecord, Measurement
    from recistry.sr.archive import ArchiveImport, ArchiveRead

NAME = "import"
HELP = "load a measurement table or a folder of DICOM SR files into the study store"
DESCRIPTION = """\
Load readings into the study store (SQLite). PATH is a measurement table (CSV or Parquet, the
columns of docs/tables.md) or a folder tree of DICOM SR files (TID 1500 measurement reports,
also those written by other tools). Every import is one transaction: a failed import leaves the
store exactly as it was. A value that differs from the one in force is stored as a new revision;
nothing is overwritten or deleted.

SR folders are read one study per task, in parallel with --workers N or on a Dask cluster with
--dask ADDRESS, by the same reader as 'recistry rescore FOLDER': a report is read whole or
refused whole, with one line naming the file, the content item and the reason. A bad SR file is
skipped (exit status 1), or refuses the whole import with --strict (exit status 2).

Reports of OHIF and 3D Slicer (docs/store.md, "Exchanging reports with OHIF and 3D Slicer"): a
lesion is identified by its Tracking Unique Identifier; lesions sharing a label get the ids
'label #1', 'label #2' (printed); lesions without a RECIST role are imported as unassigned and
listed (assign them in napari before scoring); areas, volumes and other non-RECIST values are
kept as extra values and counted; SEG references resolve to the CT images through SEG files in
the folder or in the store's DICOM index.

examples:
  recistry import measurements.csv --store trial.db --reader dr_smith --accept
  recistry import stored_studies/ --store trial.db --workers 8
  recistry import --clinical clinical.csv --store trial.db
  recistry import --accept-reader dr_jones --patient P001 --store trial.db
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        metavar="PATH",
        type=Path,
        nargs="?",
        help="measurement table (CSV/Parquet) or folder of DICOM SR files",
    )
    add_store_argument(parser)
    parser.add_argument("--clinical", type=Path, metavar="CSV", help="also load a clinical table")
    parser.add_argument(
        "--reader",
        metavar="NAME",
        help="reader of table rows that have no 'reader' column value (default: unspecified)",
    )
    parser.add_argument(
        "--accept",
        action="store_true",
        help="make the imported read the one the cohort uses for its patients",
    )
    parser.add_argument(
        "--accept-reader",
        metavar="NAME",
        help="make NAME's read the accepted one (for --patient, or for every patient read)",
    )
    parser.add_argument(
        "--patient",
        action="append",
        metavar="ID",
        help="with --accept-reader: only this patient (repeatable)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse the whole import if any SR file is bad (default: skip and report it)",
    )
    add_batch_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from recistry.store import Store

    if args.path is None and args.clinical is None and args.accept_reader is None:
        raise InputError("give PATH, --clinical or --accept-reader (see recistry import --help)")
    if args.patient and not args.accept_reader:
        raise InputError("--patient only goes with --accept-reader")
    if args.path is not None and not args.path.exists():
        raise InputError("no such file or folder", path=str(args.path))
    # Read and validate every input before writing anything, then write it all in one
    # transaction: a command that fails leaves the store exactly as it was.
    archive = table = clinical = None
    if args.path is not None and args.path.is_dir():
        from recistry.sr.archive import indexed_segmentations, read_sr_archive

        # SEG objects already indexed in the store resolve segment references too.
        seg_paths: list[str] = []
        if Path(args.store).exists():
            with Store(args.store, create=False) as store:
                seg_paths = indexed_segmentations(store)
        archive = read_sr_archive(
            args.path,
            strict=args.strict,
            workers=args.workers,
            dask_address=args.dask,
            progress=not args.no_progress and sys.stderr.isatty(),
            segmentation_paths=seg_paths,
        )
    elif args.path is not None:
        from recistry.tables import read_measurements

        table = read_measurements(args.path)
    if args.clinical is not None:
        from recistry.tables import read_clinical

        clinical = read_clinical(args.clinical)
    created = not Path(args.store).exists()
    try:
        return _write(args, archive, table, clinical)
    except BaseException:
        if created:  # a refused first import leaves no empty store behind
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{args.store}{suffix}").unlink(missing_ok=True)
        raise


def _write(
    args: argparse.Namespace,
    archive: ArchiveRead | None,
    table: list[Measurement] | None,
    clinical: dict[str, ClinicalRecord] | None,
) -> int:
    from recistry.store import Store, accept_reader, save_clinical, save_measurements

    lines = []
    status = 0
    with Store(args.store) as store, store.transaction():
        summary = None
        if archive is not None:
            from recistry.sr.archive import save_sr_archive

            result = save_sr_archive(store, archive, accept=args.accept)
            for failure in result.failures:
                print(f"skipped {failure.reason}", file=sys.stderr)
            summary = result.summary
            lines.append(
                f"read {result.files} SR files of {result.studies} studies; "
                f"{len(result.failures)} skipped"
            )
            lines.extend(_sr_lines(result))
            status = 1 if result.failures else 0
        elif table is not None:
            summary = save_measurements(
                store, table, source=str(args.path), reader=args.reader, accept=args.accept
            )
        if summary is not None:
            lines.append(
                f"{_import_label(summary.import_id)}: {_count(summary.readings, 'reading')} of "
                f"{_count(len(summary.patients), 'patient')}, "
                f"{_count(summary.new_revisions, 'new revision')}, "
                f"{summary.unchanged} unchanged → {args.store}"
            )
        if clinical is not None:
            saved = save_clinical(store, clinical, source=str(args.clinical))
            lines.append(
                f"{_import_label(saved.import_id)}: clinical data of "
                f"{_count(saved.readings, 'patient')}, "
                f"{_count(saved.new_revisions, 'new revision')} → {args.store}"
            )
        if args.accept_reader is not None:
            count = accept_reader(store, args.accept_reader, args.patient)
            lines.append(f"accepted reader {args.accept_reader} for {_count(count, 'patient')}")
    # Printed once committed, so the output never claims what was rolled back.
    print("\n".join(lines))
    return status


def _sr_lines(result: ArchiveImport) -> list[str]:
    """What an SR import read beyond readings: extra values, shared labels, lesions to assign."""
    read = f"{_count(result.lesions, 'lesion')} read"
    if result.extra_values:
        read += (
            f"; {_count(result.extra_values, 'measurement')} without RECIST meaning (area, "
            f"volume, mean …) kept as extra values, not diameters"
        )
        if result.volume_only:
            read += f" ({_count(result.volume_only, 'lesion reading')} with only such values)"
    lines = [read]
    lines.extend(label.describe() for label in result.shared_labels)
    if result.unassigned:
        shown = ", ".join(f"{p} {lesion}" for p, lesion in result.unassigned)
        lines.append(
            f"{_count(len(result.unassigned), 'lesion')} without a RECIST role (unassigned; "
            f"assign them in napari before scoring): {shown}"
        )
    return lines


def _count(n: int, noun: str) -> str:
    """``1 patient``, ``2 patients``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _import_label(import_id: int | None) -> str:
    """``import 3``, or ``nothing new`` when the store already held everything."""
    return "nothing new" if import_id is None else f"import {import_id}"
