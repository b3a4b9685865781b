"""``recistry hotspots``: SSTR-PET hot spots above the liver threshold, minus physiology."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from recistry.cli._points import lps_point

NAME = "hotspots"
HELP = "list SSTR-PET hot spots above 1.5 x liver + 2 SD as candidate lesions, with the burden"
DESCRIPTION = """\
Find the connected PET regions at or above 1.5 x liver SUVmean + 2 x liver SD (PERCIST 1.0) in
PET_DIR, set apart those in regions marked as physiological (--physiology) or matching the
simple spleen, kidney, bladder and pituitary priors, and print the candidate lesions with the
exploratory SSTR-expressing tumour volume (ml) and total lesion uptake (SUV x ml); see
docs/imaging.md.

The liver reference is the PERCIST 3 cm sphere at --liver X,Y,Z (LPS mm), or found on the CT
given with --ct (largest 30-90 HU region in the patient's right half; a heuristic).

examples:
  recistry hotspots SYN1-001/20240115/PT --ct SYN1-001/20240115/CT
  recistry hotspots PT/ --liver=-90,0,-30 --physiology spleen:105,40,20:45 --format json
"""


def _region(text: str) -> tuple[str, tuple[float, float, float], float]:
    try:
        name, centre, radius = text.split(":")
        return name, lps_point(centre), float(radius)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise argparse.ArgumentTypeError(
            f"expected NAME:X,Y,Z:RADIUS_MM, e.g. kidney:-60,40,-20:60; got {text!r}"
        ) from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pet", type=Path, metavar="PET_DIR", help="folder of the PET series")
    parser.add_argument("--ct", type=Path, metavar="CT_DIR", help="CT of the same study")
    parser.add_argument(
        "--liver",
        type=lps_point,
        metavar="X,Y,Z",
        help="centre of the 3 cm liver reference sphere, LPS mm (else found on --ct)",
    )
    parser.add_argument(
        "--physiology",
        type=_region,
        action="append",
        default=[],
        metavar="NAME:X,Y,Z:RADIUS_MM",
        help="a sphere of physiological uptake to set apart (repeatable)",
    )
    parser.add_argument(
        "--no-organ-priors",
        dest="organ_priors",
        action="store_false",
        help="do not apply the spleen/kidney/bladder/pituitary priors",
    )
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="what to print on stdout (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from recistry.errors import InputError
    from recistry.imaging.folders import load_ct_folder, load_pet_folder
    from recistry.imaging.hotspots import (
        PhysiologyRegion,
        find_hotspots,
        liver_reference_from_ct,
    )
    from recistry.imaging.metrics import LIVER_REFERENCE_DIAMETER_MM, sphere_uptake

    if args.liver is None and args.ct is None:
        raise InputError("give the liver reference centre (--liver X,Y,Z) or the CT (--ct)")
    pet = load_pet_folder(args.pet)
    if args.liver is not None:
        liver = sphere_uptake(pet, args.liver, LIVER_REFERENCE_DIAMETER_MM)
    else:
        liver = liver_reference_from_ct(load_ct_folder(args.ct), pet)
    regions = [PhysiologyRegion(name, centre, radius) for name, centre, radius in args.physiology]
    search = find_hotspots(pet, liver, physiology=regions, organ_priors=args.organ_priors)
    record = search.to_dict()
    record["liver_reference_center_lps_mm"] = [round(v, 2) for v in liver.center_lps_mm]
    if args.format == "json":
        print(json.dumps(record, indent=1))
        return 0
    print(
        f"liver SUVmean {search.liver_suv_mean:.2f} (SD {search.liver_suv_sd:.2f}) at "
        f"{record['liver_reference_center_lps_mm']}; threshold {search.threshold_suv:.2f} SUV"
    )
    print(
        f"SSTR-expressing tumour volume {search.sstr_tumour_volume_ml:.1f} ml, total lesion "
        f"uptake {search.total_lesion_uptake:.1f} SUV*ml ({len(search.candidates)} candidates)"
    )
    header = f"{'kind':<24} {'SUVmax':>7} {'SUVmean':>7} {'ml':>8}  centre (LPS mm)"
    print(header)
    for spot in (*search.candidates, *search.physiological):
        centre = ", ".join(f"{v:.1f}" for v in spot.centroid_lps_mm)
        kind = spot.physiology or "candidate"
        print(
            f"{kind:<24} {spot.suv_max:>7.2f} {spot.suv_mean:>7.2f} {spot.volume_ml:>8.2f}  "
            f"({centre})"
        )
    return 0
