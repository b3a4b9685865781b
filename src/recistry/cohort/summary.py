"""The cohort roll-up of RECIST assessments: response counts, ORR/DCR, PFS/OS medians, subgroups.

:func:`cohort_summary` returns the ``"cohort"`` object of ``recistry rescore --format json`` and of
``report.json``. Pure: assessments in, plain JSON-ready values out.

Definitions (docs/cohort.md):

* ORR = (CR + PR) / patients with at least one baseline target lesion
  (``PatientAssessment.measurable``), DCR = (CR + PR + SD) / the same denominator; the best
  overall response already applies the SD minimum duration (RECIST 1.1 §4.4). Both come with
  Clopper–Pearson exact 95% intervals. The headline uses ``best_overall_response``, which is the
  confirmed reading when the assessments were scored with ``confirm=True``; ``response_basis``
  says which, and ``by_basis`` gives both readings.
* PFS and OS medians in months (days / 30.4375) from a Kaplan–Meier fit, 95% interval as R
  ``survfit(conf.type = "log-log")``; ``None`` where not reached.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from recistry.cohort.stats import Proportion, exact_proportion
from recistry.cohort.survival import KaplanMeier, kaplan_meier
from recistry.errors import InputError
from recistry.recist.model import MONTH_DAYS, AssessmentOptions, Response

DAYS_PER_MONTH = float(MONTH_DAYS)
"""365.25 / 12: every month figure is days / 30.4375."""

UNCLASSIFIED = "unclassified"
"""Subgroup value of a patient whose clinical column is missing or empty."""

RESPONDERS = frozenset({Response.CR, Response.PR})
DISEASE_CONTROL = frozenset({Response.CR, Response.PR, Response.SD})


class Outcome(Protocol):
    """What the roll-up reads of a patient: a
    :class:`~recistry.recist.model.PatientAssessment`, or any value with these fields."""

    @property
    def options(self) -> AssessmentOptions: ...
    @property
    def measurable(self) -> bool: ...
    @property
    def best_overall_response(self) -> Response: ...
    @property
    def best_overall_response_unconfirmed(self) -> Response: ...
    @property
    def best_overall_response_confirmed(self) -> Response: ...
    @property
    def first_response_date(self) -> dt.date | None: ...
    @property
    def origin_date(self) -> dt.date: ...
    @property
    def pfs_days(self) -> int: ...
    @property
    def pfs_event(self) -> bool: ...
    @property
    def os_days(self) -> int | None: ...
    @property
    def os_event(self) -> bool | None: ...
    @property
    def covariates(self) -> Mapping[str, str]: ...


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


@dataclass(frozen=True, slots=True)
class Subgroup:
    """A ``--by`` grouping: a clinical column, or a derived yes/no test on one.

    ``"who_grade"`` groups by the values of column ``who_grade``;
    ``"ileal=primary_site==ileum"`` makes group ``ileal`` with values ``yes`` (the column equals
    ``ileum``, compared case-insensitively after trimming) and ``no``. Patients without the
    column, or with it empty, fall in ``unclassified`` so that subgroup sizes always sum to N.
    """

    name: str
    column: str
    equals: str | None = None

    @classmethod
    def parse(cls, text: str) -> Subgroup:
        """Read ``COLUMN`` or ``NAME=COLUMN==VALUE``.

        Raises
        ------
        InputError
            If a part of the derived form is empty or the text is malformed.
        """
        spec = text.strip()
        if "==" not in spec:
            if not spec or "=" in spec:
                raise InputError(
                    f"'{text}' is not a column name nor NAME=COLUMN==VALUE "
                    "(e.g. --by who_grade or --by 'ileal=primary_site==ileum')",
                    column="--by",
                )
            return cls(name=spec, column=spec)
        head, _, value = spec.partition("==")
        name, eq, column = head.partition("=")
        if not eq or not name.strip() or not column.strip() or not value.strip():
            raise InputError(
                f"'{text}' is not NAME=COLUMN==VALUE (e.g. 'ileal=primary_site==ileum')",
                column="--by",
            )
        return cls(name=name.strip(), column=column.strip(), equals=value.strip())

    def value_of(self, covariates: Mapping[str, str]) -> str:
        """The group this patient's clinical covariates put it in."""
        raw = covariates.get(self.column, "").strip()
        if not raw:
            return UNCLASSIFIED
        if self.equals is None:
            return raw
        return "yes" if raw.casefold() == self.equals.casefold() else "no"


def response_basis(assessments: Sequence[Outcome]) -> str:
    """``"confirmed"`` or ``"unconfirmed"``: which reading ``best_overall_response`` holds.

    Raises
    ------
    ValueError
        If the assessments were scored with different ``confirm`` options.
    """
    confirms = {a.options.confirm for a in assessments}
    if len(confirms) > 1:
        raise ValueError("assessments mix confirmed and unconfirmed scoring; rescore them together")
    return "confirmed" if confirms == {True} else "unconfirmed"


def _best(assessment: Outcome, basis: str | None) -> Response:
    if basis is None:
        return assessment.best_overall_response
    if basis == "confirmed":
        return assessment.best_overall_response_confirmed
    return assessment.best_overall_response_unconfirmed


def objective_response(assessments: Sequence[Outcome], basis: str | None = None) -> Proportion:
    """ORR: CR or PR among measurable patients, with its exact 95% interval.

    ``basis`` is ``None`` for the headline reading, else ``"confirmed"`` / ``"unconfirmed"``.
    """
    measurable = [a for a in assessments if a.measurable]
    k = sum(1 for a in measurable if _best(a, basis) in RESPONDERS)
    return exact_proportion(k, len(measurable))


def disease_control(assessments: Sequence[Outcome], basis: str | None = None) -> Proportion:
    """DCR: CR, PR or SD among measurable patients, with its exact 95% interval."""
    measurable = [a for a in assessments if a.measurable]
    k = sum(1 for a in measurable if _best(a, basis) in DISEASE_CONTROL)
    return exact_proportion(k, len(measurable))


def best_response_counts(
    assessments: Sequence[Outcome], basis: str | None = None
) -> dict[str, int]:
    """Patients per best overall response code (every code present, zeros included)."""
    counts = Counter(_best(a, basis) for a in assessments)
    return {code.value: counts.get(code, 0) for code in Response}


def progression_free_survival(assessments: Sequence[Outcome]) -> KaplanMeier:
    """Kaplan–Meier PFS of every patient, in months from the origin (treatment start)."""
    return kaplan_meier(
        [a.pfs_days / DAYS_PER_MONTH for a in assessments], [a.pfs_event for a in assessments]
    )


def overall_survival(assessments: Sequence[Outcome]) -> KaplanMeier | None:
    """Kaplan–Meier OS in months over the patients whose clinical row gives follow-up.

    ``None`` when no patient has OS data (no clinical table).
    """
    with_os = [a for a in assessments if a.os_days is not None]
    if not with_os:
        return None
    return kaplan_meier(
        [(a.os_days or 0) / DAYS_PER_MONTH for a in with_os], [bool(a.os_event) for a in with_os]
    )


def duration_of_response(assessments: Sequence[Outcome], basis: str | None = None) -> KaplanMeier:
    """Kaplan–Meier duration of response in months, over responders (best response CR/PR).

    From the first scan meeting CR or PR (``first_response_date``) to the end of PFS:
    progression (or death, when the engine counts it as a PFS event), otherwise censored where
    PFS is censored (RECIST 1.1 §4.5, "duration of overall response").
    """
    durations: list[float] = []
    events: list[bool] = []
    for a in assessments:
        if _best(a, basis) not in RESPONDERS or a.first_response_date is None:
            continue
        start = (a.first_response_date - a.origin_date).days
        durations.append(max(a.pfs_days - start, 0) / DAYS_PER_MONTH)
        events.append(a.pfs_event)
    return kaplan_meier(durations, events)


def subgroup_members(spec: Subgroup, assessments: Sequence[OutcomeT]) -> dict[str, list[OutcomeT]]:
    """Patients per value of a subgroup, values in display order (numbers numerically, then
    text, ``unclassified`` last)."""
    members: dict[str, list[OutcomeT]] = {}
    for a in assessments:
        members.setdefault(spec.value_of(a.covariates), []).append(a)
    return {value: members[value] for value in sorted(members, key=_group_order)}


def _median_pair(fit: KaplanMeier | None) -> tuple[float | None, list[float | None]]:
    if fit is None:
        return None, [None, None]
    return fit.median, [fit.median_ci95[0], fit.median_ci95[1]]


def cohort_summary(assessments: Sequence[Outcome], by: Sequence[str] = ()) -> dict[str, object]:
    """Roll patient assessments up into the cohort object of the rescore and report JSON.

    Parameters
    ----------
    assessments
        One :class:`~recistry.recist.model.PatientAssessment` (or :class:`Outcome`) per
        patient, scored with the same options.
    by
        Subgroup specs: clinical column names, or ``NAME=COLUMN==VALUE`` (see :class:`Subgroup`).

    Returns
    -------
    dict
        ``patients``, ``measurable``, ``response_basis``, ``best_overall_response_counts``,
        ``orr`` and ``dcr`` (``{"responders", "n", "rate", "ci95"}``, rates as fractions),
        ``by_basis`` (counts, ORR and DCR for the unconfirmed and the confirmed reading),
        PFS/OS medians in months with 95% intervals (``None`` = not reached; OS ``None``
        without clinical data), event counts, duration of response (``dor_*``: responders,
        events, median months and interval), and ``subgroups``
        ``{name: {value: {"n", "orr", "dcr"}}}``.

    Raises
    ------
    InputError
        If a ``by`` spec is malformed.
    """
    specs = [Subgroup.parse(text) for text in by]
    pfs = progression_free_survival(assessments)
    os_fit = overall_survival(assessments)
    dor = duration_of_response(assessments)
    pfs_median, pfs_ci = _median_pair(pfs)
    os_median, os_ci = _median_pair(os_fit)
    dor_median, dor_ci = _median_pair(dor)

    subgroups: dict[str, dict[str, dict[str, object]]] = {}
    for spec in specs:
        subgroups[spec.name] = {
            value: {
                "n": len(group),
                "orr": objective_response(group).as_dict(),
                "dcr": disease_control(group).as_dict(),
            }
            for value, group in subgroup_members(spec, assessments).items()
        }

    return {
        "patients": len(assessments),
        "measurable": sum(1 for a in assessments if a.measurable),
        "response_basis": response_basis(assessments),
        "best_overall_response_counts": best_response_counts(assessments),
        "orr": objective_response(assessments).as_dict(),
        "dcr": disease_control(assessments).as_dict(),
        "by_basis": {
            basis: {
                "best_overall_response_counts": best_response_counts(assessments, basis),
                "orr": objective_response(assessments, basis).as_dict(),
                "dcr": disease_control(assessments, basis).as_dict(),
            }
            for basis in ("unconfirmed", "confirmed")
        },
        "pfs_events": pfs.events,
        "pfs_median_months": pfs_median,
        "pfs_median_ci95": pfs_ci,
        "os_patients": 0 if os_fit is None else os_fit.n,
        "os_events": None if os_fit is None else os_fit.events,
        "os_median_months": os_median,
        "os_median_ci95": os_ci,
        "dor_responders": dor.n,
        "dor_events": dor.events,
        "dor_median_months": dor_median,
        "dor_median_ci95": dor_ci,
        "subgroups": subgroups,
    }


def _group_order(value: str) -> tuple[int, float, str]:
    """Numeric values in numeric order, then text, ``unclassified`` last."""
    if value == UNCLASSIFIED:
        return (3, 0.0, value)
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)
