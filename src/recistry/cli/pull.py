"""``recistry pull``: retrieve studies from a PACS (DICOMweb or DIMSE) into a folder tree."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
from pathlib import Path

from recistry.errors import InputError

NAME = "pull"
HELP = "retrieve studies from a PACS (DICOMweb or DIMSE) into a folder tree"
DESCRIPTION = """\
Ask the PACS at URL which series match (QIDO-RS, or C-FIND for dimse://) and retrieve them
(WADO-RS, or C-GET / C-MOVE) into OUT/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm, as the
archive stores them (no transcoding). 'recistry index', the napari annotator and 'rescore' read
that tree. Every file is written under a temporary name, flushed and renamed: run the same
command again after an interruption and only what is missing is retrieved (files on disk are
checked first).

URL is a DICOMweb base URL (https://pacs.example.org/dicom-web) or dimse://AET@HOST:PORT.
Credentials (DICOMweb): RECISTRY_PACS_TOKEN (bearer), or RECISTRY_PACS_USER and
RECISTRY_PACS_PASSWORD (basic), or the netrc file ($NETRC or ~/.netrc); never in the URL, never
logged. https certificates are always verified (--ca-bundle for a private CA). See docs/pacs.md.

examples:
  recistry pull https://pacs.example.org/dicom-web --patient SYN1-001 --out studies/
  recistry pull http://localhost:8042/dicom-web --study 1.2.3.4 --modality CT,PT --out studies/
  recistry pull dimse://ORTHANC@pacs.example.org:4242 --patient SYN1-001 --since 2024-03-01 \\
      --out studies/
  recistry index studies/ --store trial.db
"""

CA_BUNDLE_VARIABLE = "RECISTRY_PACS_CA_BUNDLE"
AET_VARIABLE = "RECISTRY_PACS_AET"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command talking to a PACS shares (TLS trust, our AE title)."""
    parser.add_argument(
        "--ca-bundle",
        type=Path,
        metavar="PEM",
        default=os.environ.get(CA_BUNDLE_VARIABLE) or None,
        help=f"DICOMweb over https: trust these CA certificates instead of the system's "
        f"(default: ${CA_BUNDLE_VARIABLE}); verification is never switched off",
    )
    parser.add_argument(
        "--aet",
        metavar="TITLE",
        default=os.environ.get(AET_VARIABLE) or "RECISTRY",
        help=f"dimse://: our (calling) AE title, as the PACS knows it "
        f"(default: ${AET_VARIABLE} or %(default)s)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="DICOMweb base URL or dimse://AET@HOST:PORT")
    parser.add_argument("--patient", metavar="ID", help="PatientID to pull")
    parser.add_argument("--study", metavar="UID", help="StudyInstanceUID to pull")
    parser.add_argument(
        "--modality",
        metavar="LIST",
        default="",
        help="only series of these modalities, comma-separated (CT,PT); default: all",
    )
    parser.add_argument(
        "--since",
        metavar="DATE",
        help="only studies on or after this date (YYYY-MM-DD)",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="root of the tree")
    add_connection_arguments(parser)
    parser.add_argument(
        "--move-port",
        type=int,
        metavar="PORT",
        help="dimse://: retrieve with C-MOVE, receiving on this port (the PACS must know our "
        "AE title, host and port); default: C-GET",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_modalities(text: str) -> tuple[str, ...]:
    """``"CT,PT"`` → ``("CT", "PT")``; InputError naming --modality if one is not a DICOM
    modality code (upper-case letters and digits, at most 16)."""
    codes = tuple(c.strip().upper() for c in text.split(",") if c.strip())
    for code in codes:
        if not re.fullmatch(r"[A-Z0-9_]{1,16}", code):
            raise InputError(f"{code!r} is not a modality code (CT, PT, ...)", column="--modality")
    return codes


def parse_since(text: str | None) -> dt.date | None:
    """``YYYY-MM-DD`` or ``YYYYMMDD`` → date; InputError naming --since otherwise."""
    if text is None:
        return None
    for pattern in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise InputError(f"{text!r} is not a date (YYYY-MM-DD)", column="--since")


def run(args: argparse.Namespace) -> int:
    from recistry.pacs import DimseLocation, PullQuery, parse_location, pull
    from recistry.pacs.location import check_ae_title

    location = parse_location(args.url)
    query = PullQuery(
        patient_id=args.patient,
        study_uid=args.study,
        modalities=parse_modalities(args.modality),
        since=parse_since(args.since),
    )
    check_ae_title(args.aet, "--aet")
    if args.move_port is not None:
        if not isinstance(location, DimseLocation):
            raise InputError("only for dimse:// URLs", column="--move-port")
        if not 0 < args.move_port < 65536:
            raise InputError(f"{args.move_port} is not a TCP port", column="--move-port")
    result = pull(
        location,
        query,
        args.out,
        ca_bundle=args.ca_bundle,
        calling_aet=args.aet,
        move_port=args.move_port,
        progress=not args.no_progress and sys.stderr.isatty(),
    )
    print(
        f"{result.instances} instance(s) in {result.series} series of {result.studies} "
        f"study(ies): {result.retrieved} retrieved, {result.already_complete} already complete, "
        f"in {result.out}/"
    )
    return 0
