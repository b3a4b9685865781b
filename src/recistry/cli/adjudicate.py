"""``recistry adjudicate``: record an adjudicator's choice of one reader's read of a patient."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "adjudicate"
HELP = "accept one reader's read of a patient, with the adjudicator and the reason"
DESCRIPTION = """\
Record that an adjudicator chose READER's read of patient ID, with the reason. The choice is a
new revision in the store (who, when, why); nothing earlier is changed. From then on rescore,
report, cdisc and export use the adjudicated read and say so ("adjudicated: 3 of 25 patients").
'recistry readers STORE' lists the patients that need adjudication; docs/readers.md describes
the workflow.

examples:
  recistry adjudicate trial.db --patient P07 --accept dr_jones \\
      --reason "new liver lesion at week 24 confirmed on MRI" --adjudicator dr_adams
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("store", metavar="STORE", type=Path, help="study store (SQLite file)")
    parser.add_argument("--patient", required=True, metavar="ID", help="the patient")
    parser.add_argument("--accept", required=True, metavar="READER", help="the read chosen")
    parser.add_argument("--reason", required=True, metavar="TEXT", help="why this read")
    parser.add_argument("--adjudicator", required=True, metavar="NAME", help="who chose")


def run(args: argparse.Namespace) -> int:
    from recistry.errors import InputError
    from recistry.store import Store, is_store_file
    from recistry.store.adjudication import adjudicate

    if not is_store_file(args.store):
        raise InputError(
            "not a study store (make one with 'recistry import')", path=str(args.store)
        )
    with Store(args.store, create=False) as store:
        done = adjudicate(
            store, args.patient, args.accept, reason=args.reason, adjudicator=args.adjudicator
        )
    print(
        f"patient {done.patient_id}: {done.adjudicator} accepted {done.accepted_reader}'s read "
        f"at {done.recorded_at} ({done.reason})"
    )
    return 0
