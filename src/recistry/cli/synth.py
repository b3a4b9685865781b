"""``recistry synth``: write synthetic CT + Ga-68 DOTATATE PET studies with known lesions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "synth"
HELP = "write synthetic CT and Ga-68 DOTATATE PET studies with a known ground truth"
DESCRIPTION = """\
Write synthetic patients: per scan a CT and a Ga-68 DOTATATE PET series (valid DICOM, one frame
of reference per study) with ellipsoid lesions in liver, lymph node, pancreas and bone whose
diameters and SUVs are known exactly. Sizes follow a scripted response per patient (PR then a new
lesion, PR, SD, PD, in turn) and lesion uptake covers Krenning grades 0-4.

Writes OUT/ground_truth.json, OUT/measurements.csv (all patients) and per patient
OUT/<patient>/measurements.csv and OUT/<patient>/<YYYYMMDD>/{CT,PT}/. The same arguments give
byte-identical files. OUT must not exist or be empty.

--reposition moves and slightly deforms the patient at each follow-up (known transform in the
ground truth, for lesion tracking); --lung adds a lung base with a nodule. Without them the
output is the same as before these options existed.

example:
  recistry synth out/synth --patients 4 --timepoints 3 --seed 1 --size 256
  recistry synth out/tracking --patients 1 --timepoints 2 --size 256 --reposition --lung
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, metavar="OUT", help="folder to create")
    parser.add_argument("--patients", type=int, default=1, help="number of patients (default 1)")
    parser.add_argument(
        "--timepoints",
        type=int,
        default=3,
        help="scans per patient including the baseline, 8 weeks apart (default 3)",
    )
    parser.add_argument("--seed", type=int, default=0, help="fixes every value and UID (default 0)")
    parser.add_argument(
        "--size",
        type=int,
        default=512,
        help="CT matrix over a 360 mm field of view, 32-1024 (default 512); PET is half of it",
    )
    parser.add_argument(
        "--reposition",
        action="store_true",
        help="lay the patient differently at each follow-up (a known rotation, translation and "
        "small smooth deformation, recorded in the ground truth) to test lesion tracking",
    )
    parser.add_argument(
        "--lung",
        action="store_true",
        help="add a right lung base with a non-target lung nodule (LU1)",
    )


def run(args: argparse.Namespace) -> int:
    from recistry.imaging.synth import write_synthetic_studies

    written = write_synthetic_studies(
        args.out,
        patients=args.patients,
        timepoints=args.timepoints,
        seed=args.seed,
        size=args.size,
        reposition=args.reposition,
        lung=args.lung,
    )
    print(
        f"wrote {len(written)} patient(s) x {args.timepoints} scan(s) to {args.out} "
        f"(ground truth: {args.out / 'ground_truth.json'})",
        file=sys.stdout,
    )
    return 0
