"""recistry's iRECIST derivations against admiralonco's iRECIST vignette, on the vignette's data.

admiralonco (pharmaverse/admiralonco, ``vignettes/irecist.Rmd``) derives the iRECIST ADRS
parameters from the investigator's overall responses of pharmaversesdtm's ``rs_onco_irecist``
with ``admiral::event()`` / ``event_joined()`` definitions. R is not available here, so
:func:`vignette_parameters` below transcribes those definitions, one function per event, from
the vignette's R code (not from recistry), and recistry's own functions score the same
time points:

* ``IBOR`` (no confirmation) and ``ICBOR`` (confirmed, ``confirmation_period <- 28``):
  :func:`recistry.recist.irecist.best_overall_response_irecist`;
* ``ICPD`` (the date of the iUPD that iCPD confirmed) and ``IUPD`` (an iUPD never confirmed nor
  followed by iSD, iPR or iCR, with its date): :func:`recistry.recist.irecist.progression_dates`.
  After a run of several unconfirmed iUPD, the vignette's code dates IUPD at the last one (it
  keeps the records from the last iUPD on) and recistry at the first, like a confirmed one; no
  subject of the data has such a run.

Data (tests/recist/data/admiralonco/, Apache-2.0): ``rs_onco_irecist.csv`` is
pharmaversesdtm's ``inst/extdata/rs_onco_irecist.csv`` (commit 530a5ea8); ``adsl_randdt.csv``
the USUBJID and RANDDT of those subjects from pharmaverseadam's ``inst/extdata/adsl.csv``
(commit 2c7db61b). The vignette is admiralonco commit 83370b12.
"""

from __future__ import annotations

import calendar
import csv
import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import pytest

from recistry.recist.irecist import (
    IRecistTimepoint,
    IResponse,
    best_overall_response_irecist,
    progression_dates,
)
from recistry.recist.model import AssessmentOptions
from tests.recist._ibuild import irecist, target_series

DATA = Path(__file__).parent / "data" / "admiralonco"

# The vignette's aval_resp_new(): worst first; ANL01FL keeps the worst record of a date.
AVAL = {"iCPD": 1, "iUPD": 2, "NON-iCR/NON-iUPD": 3, "iSD": 4, "iPR": 5, "iCR": 6, "NE": 8}
CODE = {"NON-iCR/NON-iUPD": IResponse.NON_ICR_NON_IUPD} | {
    c: IResponse(c) for c in ("iCR", "iPR", "iSD", "iUPD", "iCPD", "NE")
}


@dataclasses.dataclass(frozen=True)
class Ovr:
    """One analysis record of the vignette's ``ovr`` dataset."""

    adt: dt.date
    avalc: str
    rsseq: int


def _adt(rsdtc: str) -> dt.date:
    """derive_vars_dt(highest_imputation = "D", date_imputation = "last")."""
    parts = [int(p) for p in rsdtc.split("-")]
    if len(parts) == 2:
        parts.append(calendar.monthrange(parts[0], parts[1])[1])
    return dt.date(*parts)


def vignette_ovr() -> tuple[dict[str, list[Ovr]], dict[str, dt.date], set[str]]:
    """The vignette's pre-processing: OVRLRESP by the investigator, ADT, ANL01FL (on or after
    RANDDT, the worst record of each date), ANL02FL (up to and including the first iCPD)."""
    randdt = {
        r["USUBJID"]: dt.date.fromisoformat(r["RANDDT"])
        for r in csv.DictReader((DATA / "adsl_randdt.csv").open())
    }
    rs = list(csv.DictReader((DATA / "rs_onco_irecist.csv").open()))
    with_targets = {r["USUBJID"] for r in rs if r["RSTESTCD"] == "TRGRESP"}
    records: dict[str, list[Ovr]] = defaultdict(list)
    for r in rs:
        if r["RSEVAL"] == "INVESTIGATOR" and r["RSTESTCD"] == "OVRLRESP":
            records[r["USUBJID"]].append(Ovr(_adt(r["RSDTC"]), r["RSSTRESC"], int(r["RSSEQ"])))
    ovr: dict[str, list[Ovr]] = {}
    for subject, rows in records.items():
        anl01 = {}
        for rec in sorted(rows, key=lambda o: (AVAL[o.avalc], o.rsseq)):
            if rec.adt >= randdt[subject]:
                anl01.setdefault(rec.adt, rec)
        ordered = sorted(rows, key=lambda o: (o.adt, o.rsseq))
        first_icpd = next((i for i, o in enumerate(ordered) if o.avalc == "iCPD"), None)
        anl02 = ordered if first_icpd is None else ordered[: first_icpd + 1]
        ovr[subject] = [o for o in anl02 if anl01.get(o.adt) is o]
    return ovr, randdt, with_targets


# --- the vignette's events, transcribed --------------------------------------------------------


def _joined_after(rows: Sequence[Ovr], i: int, upper) -> list[Ovr] | None:
    """event_joined(join_type = "after", first_cond_upper): the records after ``rows[i]`` up to
    the first that meets ``upper``; ``None`` when none does."""
    out = []
    for rec in rows[i + 1 :]:
        out.append(rec)
        if upper(rows[i], rec):
            return out
    return None


def icpd_y(rows: Sequence[Ovr]) -> Ovr | None:
    """'iUPD followed by iCPD with only other iUPD and NE responses in between' (first by ADT)."""
    for i, rec in enumerate(rows):
        joined = _joined_after(rows, i, lambda _, j: j.avalc == "iCPD")
        if rec.avalc != "iUPD" or joined is None:
            continue
        if all(j.avalc in ("iCPD", "iUPD", "NE") for j in joined):
            return rec
    return None


def iupd_y(rows: Sequence[Ovr]) -> Ovr | None:
    """'iUPD followed only by other iUPD or NE responses', on ovr from the last iUPD on."""
    last = max((o.adt for o in rows if o.avalc == "iUPD"), default=None)
    if last is None:
        return None
    tail = [o for o in rows if o.adt >= last]
    if all(o.avalc in ("iUPD", "NE") for o in tail):
        return next(o for o in tail if o.avalc == "iUPD")
    return None


def _confirmed(rows: Sequence[Ovr], first: str, upper_codes: set[str], allowed: set[str]):
    """icbor_icr / icbor_ipr: a response confirmed >= 28 days later, at most one NE between."""
    for i, rec in enumerate(rows):
        if rec.avalc != first:
            continue
        joined = _joined_after(
            rows, i, lambda r, j: j.avalc in upper_codes and j.adt >= r.adt + dt.timedelta(28)
        )
        if joined is None or any(j.avalc not in allowed for j in joined):
            continue
        if sum(j.avalc == "NE" for j in joined) > 1:
            continue
        crs = [j.adt for j in joined if j.avalc == "iCR"]
        prs = [j.adt for j in joined if j.avalc == "iPR"]
        if first == "iPR" and crs and prs and not min(crs) > max(prs):
            continue
        return rec
    return None


def ibor(rows: Sequence[Ovr], randdt: dt.date, confirm: bool) -> str:
    """derive_extreme_event(events = list(ibor_icr | icbor_icr, ibor_ipr | icbor_ipr, ibor_isd,
    ibor_non_icriupd, ibor_icpd, ibor_iupd, ibor_ne, no_data_missing)): the first that fires."""
    day42 = randdt + dt.timedelta(42)
    if not rows:
        return "MISSING"
    if confirm:
        if _confirmed(rows, "iCR", {"iCR"}, {"iCR", "NE"}):
            return "iCR"
        if _confirmed(rows, "iPR", {"iCR", "iPR"}, {"iCR", "iPR", "NE"}):
            return "iPR"
    else:
        for code in ("iCR", "iPR"):
            if any(o.avalc == code for o in rows):
                return code
    if any(o.avalc in ("iCR", "iPR", "iSD") and o.adt >= day42 for o in rows):
        return "iSD"
    if any(o.avalc == "NON-iCR/NON-iUPD" and o.adt >= day42 for o in rows):
        return "NON-iCR/NON-iUPD"
    if icpd_y(rows):
        return "iCPD"
    if any(o.avalc == "iUPD" for o in rows):
        return "iUPD"
    if any(o.avalc in ("iCR", "iPR", "iSD", "NON-iCR/NON-iUPD", "NE") for o in rows):
        return "NE"
    return "MISSING"


def vignette_parameters() -> dict[str, dict[str, object]]:
    ovr, randdt, _ = vignette_ovr()
    out = {}
    for subject, rows in ovr.items():
        confirmed, unconfirmed = icpd_y(rows), iupd_y(rows)
        out[subject] = {
            "IBOR": ibor(rows, randdt[subject], confirm=False),
            "ICBOR": ibor(rows, randdt[subject], confirm=True),
            "ICPD": confirmed.adt if confirmed else None,
            "IUPD": unconfirmed.adt if unconfirmed else None,
        }
    return out


# --- recistry on the same time points ---------------------------------------------------------


def _best(
    scans: Sequence[IRecistTimepoint], origin: dt.date, has_targets: bool, confirm: bool
) -> str:
    options = AssessmentOptions(confirm=confirm, confirm_days=28, max_ne_between=1)
    code, _ = best_overall_response_irecist(scans, origin, options, has_targets=has_targets)
    return "NON-iCR/NON-iUPD" if code is IResponse.NON_ICR_NON_IUPD else code.value


def recistry_parameters() -> dict[str, dict[str, object]]:
    ovr, randdt, with_targets = vignette_ovr()
    template = irecist(target_series((0, 50), (56, 45))).timepoints[0]
    out = {}
    for subject, rows in ovr.items():
        scans: list[IRecistTimepoint] = [
            dataclasses.replace(template, date=o.adt, response=CODE[o.avalc]) for o in rows
        ]
        origin, has_targets = randdt[subject], subject in with_targets
        confirmed, unconfirmed = progression_dates(scans)
        out[subject] = {
            "IBOR": _best(scans, origin, has_targets, confirm=False),
            "ICBOR": _best(scans, origin, has_targets, confirm=True),
            "ICPD": confirmed,
            "IUPD": unconfirmed,
        }
    return out


VIGNETTE = vignette_parameters()
RECISTRY = recistry_parameters()


def test_the_vignette_data_is_read() -> None:
    assert len(VIGNETTE) == 26
    assert VIGNETTE["01-701-1028"]["ICPD"] == dt.date(2013, 8, 31)  # RSDTC "2013-08", imputed


# Where recistry reads differently, and why (each pair: admiralonco, recistry).
KNOWN_DIFFERENCES = {
    # iCR, iPR (42 days later), iUPD, iPR. RECIST 1.1 Table 3 note: a CR followed by a PR may
    # have been a PR all along; recistry's engine scores it a confirmed PR and says it needs
    # adjudication (docs/recist-rules.md, item 63). The vignette's icbor_ipr needs an iPR first,
    # and the later iPR has an iUPD in between, so it falls back to iSD.
    ("ICBOR", "01-701-1239"): ("iSD", "iPR"),
    # iPR, iUPD, NON-iCR/NON-iUPD, iUPD for a patient with target lesions (TRGRESP iPR at the
    # NON-iCR/NON-iUPD visit): RECIST 1.1 Table 1 has no non-CR/non-PD for patients with targets,
    # so recistry's fallback for them is SD; the vignette returns the record's own code.
    ("ICBOR", "01-701-1148"): ("NON-iCR/NON-iUPD", "iSD"),
}


@pytest.mark.parametrize("parameter", ["IBOR", "ICBOR", "ICPD", "IUPD"])
def test_recistry_matches_the_admiralonco_vignette(parameter: str) -> None:
    """admiralonco iRECIST vignette, sections 'Derive Confirmed and Unconfirmed Progressive
    Disease Parameter', 'Derive Best Overall Response Parameter' and 'Derive Response Parameters
    requiring Confirmation': every subject of rs_onco_irecist, parameter by parameter, equal
    except for the differences listed (and explained) in KNOWN_DIFFERENCES."""
    differ = {
        (parameter, s): (VIGNETTE[s][parameter], RECISTRY[s][parameter])
        for s in VIGNETTE
        if VIGNETTE[s][parameter] != RECISTRY[s][parameter]
    }
    known = {k: v for k, v in KNOWN_DIFFERENCES.items() if k[0] == parameter}
    assert differ == known


def test_the_comparison_covers_every_outcome() -> None:
    """The data exercise each branch compared above (so the agreement is not vacuous)."""
    ibors = {p["IBOR"] for p in VIGNETTE.values()}
    assert {"iCR", "iPR", "iSD", "iCPD", "iUPD", "NE"} <= ibors
    icbors = {p["ICBOR"] for p in VIGNETTE.values()}
    assert {"iCR", "iPR", "iSD"} <= icbors
    assert sum(p["ICPD"] is not None for p in VIGNETTE.values()) >= 2
    assert sum(p["IUPD"] is not None for p in VIGNETTE.values()) >= 2
