"""``recistry measure``: one-click lesion measurement from a point on a CT series."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recistry.cli._points import MEASUREMENT_KEYS, add_pet_and_format_arguments, lps_point, table

NAME = "measure"
HELP = "segment the lesion under a point and print its RECIST axes, volume and SUV"
DESCRIPTION = """\
Segment the lesion that holds the point X,Y,Z (patient coordinates, LPS mm) on the CT series in
SERIES_DIR (region growing on CT, bounded by the PET uptake when --pet is given; see
docs/imaging.md) and print the RECIST 1.1 long axis (longest in-plane diameter, on the axial
slice where it is largest), the perpendicular short axis (the measure for lymph nodes), their
end points in LPS mm, the slice's SOP Instance UID, the volume and, with --pet, SUVmax and
SUVpeak (PERCIST 1 cm3 sphere).

A point outside the CT, in air, or where no lesion boundary is found is refused with one line on
stderr and exit status 2.

examples:
  recistry measure sample_dicom/demo_patient/SYN1-001/20240115/CT --at=-68.9,-9.8,12.5
  recistry measure CT/ --at=-68.9,-9.8,12.5 --pet PT/ --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("series", type=Path, metavar="SERIES_DIR", help="folder of one CT series")
    parser.add_argument(
        "--at",
        type=lps_point,
        required=True,
        metavar="X,Y,Z",
        help="a point inside the lesion, LPS mm (write --at=-70,-10,12.5 for a negative X)",
    )
    add_pet_and_format_arguments(parser, "folder of the PET series of the same study")


def run(args: argparse.Namespace) -> int:
    from recistry.imaging.folders import load_ct_folder, load_pet_folder
    from recistry.imaging.segment import segment_lesion

    ct = load_ct_folder(args.series)
    pet = load_pet_folder(args.pet) if args.pet is not None else None
    record = segment_lesion(ct, args.at, pet=pet).to_dict()
    if args.format == "json":
        print(json.dumps(record, indent=1))
    else:
        print(table(record, MEASUREMENT_KEYS))
    return 0
