"""``recistry track``: follow a prior lesion onto the current CT and propose its measurement."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recistry.cli._points import MEASUREMENT_KEYS, add_pet_and_format_arguments, lps_point, table

NAME = "track"
HELP = "map prior lesion points onto the current CT (registration) and re-measure them there"
DESCRIPTION = """\
Register the prior CT (PRIOR_CT_DIR) to the current CT (CURRENT_CT_DIR) (SimpleITK: body
centroids, multi-resolution rigid on 4 mm copies, then a local translation around each point on
1.5 mm copies; see docs/imaging.md), map each --at point of the prior scan onto the current scan,
segment the lesion found there and print the mapped point, the proposed lesion centre and its
measurement (as 'recistry measure'). A lesion that cannot be segmented at its mapped point is
reported as not-found with the reason. Everything printed is a proposal for the reader.

examples:
  recistry track SYN1-001/20240115/CT SYN1-001/20240311/CT --at=-68.9,-9.8,12.5
  recistry track PRIOR/CT CURRENT/CT --at=-68.9,-9.8,12.5 --at=29.5,54.8,-22.5 --format json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prior", type=Path, metavar="PRIOR_CT_DIR", help="folder of the prior CT")
    parser.add_argument(
        "current", type=Path, metavar="CURRENT_CT_DIR", help="folder of the current CT"
    )
    parser.add_argument(
        "--at",
        type=lps_point,
        action="append",
        required=True,
        metavar="X,Y,Z",
        help="a point inside a lesion on the prior CT, LPS mm (repeatable; write --at=-70,0,5 "
        "for a negative X)",
    )
    add_pet_and_format_arguments(parser, "PET series of the current study (SUV)")


def run(args: argparse.Namespace) -> int:
    from recistry.imaging.folders import load_ct_folder, load_pet_folder
    from recistry.imaging.register import register_ct, track_lesions

    prior = load_ct_folder(args.prior)
    current = load_ct_folder(args.current)
    pet = load_pet_folder(args.pet) if args.pet is not None else None
    registration = register_ct(prior, current)
    tracked = track_lesions(registration, prior, current, args.at, current_pet=pet)
    records = [t.to_dict() for t in tracked]
    if args.format == "json":
        document = {
            "registration": {
                "stages": list(registration.stages),
                "elapsed_s": round(registration.elapsed_s, 2),
                "parameters": registration.parameters.as_parameters(),
            },
            "lesions": records,
        }
        print(json.dumps(document, indent=1))
        return 0
    blocks = []
    for record in records:
        head = {
            k: record[k] for k in ("prior_lps_mm", "mapped_lps_mm", "proposed_lps_mm", "status")
        }
        lines = [table(head, list(head))]
        if record["measurement"] is not None:
            lines.append(table(record["measurement"], MEASUREMENT_KEYS))
        else:
            lines.append(f"failure          {record['failure']}")
        blocks.append("\n".join(lines))
    print("\n\n".join(blocks))
    return 0
