"""Policy profiles: every protocol choice of a RECIST assessment as a named, versioned setting.

A profile is an :class:`~recistry.recist.model.AssessmentOptions` value. The built-in profiles
are :data:`PROFILES`; :func:`policy_from_mapping` makes one from the keys of a TOML file (read
by :func:`recistry.scoring.load_policy`), starting from a built-in profile (``base``) and
refusing any key it does not know.

A profile file::

    name = "my-trial"                 # printed with every result
    version = 3
    base = "recist1.1-confirmed"      # optional; default "recist1.1"
    confirm_days = 35
    pfs_max_missed_scans = 1
    irecist_confirm_min_days = 26     # iRECIST: the FAQ's +/- 2 days protocol variance

Keys: ``name``, ``version``, ``base`` and the fields of :class:`AssessmentOptions` (docs/
recist-rules.md, "Policy profiles"; the ``irecist_*`` keys in docs/irecist.md). Millimetre
settings are read exactly as written (``5``, ``7.5``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from recistry.errors import InputError
from recistry.recist.model import AssessmentOptions, NodeComplete, NodeReappearance

__all__ = ["DEFAULT_PROFILE", "PROFILES", "policy_from_mapping", "profile"]

DEFAULT_PROFILE = "recist1.1"

PROFILES: Mapping[str, AssessmentOptions] = MappingProxyType(
    {
        # RECIST 1.1 as written, for randomised trials: no confirmation [EJC09 §4.6.1].
        "recist1.1": AssessmentOptions(),
        # Single-arm trials with response as the primary endpoint: CR/PR confirmed >= 4 weeks
        # later (Table 3), at most one NE between [EJC09 §4.6.1; admiralonco max_nr_ne = 1].
        "recist1.1-confirmed": AssessmentOptions(policy="recist1.1-confirmed", confirm=True),
        # The FDA's sensitivity analysis of PFS: an event after two or more missed scans is
        # censored at the last adequate assessment (FDA guidance 2018, Appendix 3, Table A).
        "recist1.1-fda-sensitivity": AssessmentOptions(
            policy="recist1.1-fda-sensitivity", pfs_max_missed_scans=1
        ),
        # recistry's rules before issue 10, to reproduce earlier results: a nodal non-target
        # present after a CR is PD, and the sum rule applies to normal target nodes.
        "recist1.1-legacy": AssessmentOptions(
            policy="recist1.1-legacy",
            policy_version=1,
            node_reappearance=NodeReappearance.PRESENT,
            node_cr=NodeComplete.SUM_RULE,
        ),
    }
)
"""The built-in profiles by name."""

_FIELDS = {f.name: f for f in dataclasses.fields(AssessmentOptions)}
_RENAMED = {"name": "policy", "version": "policy_version"}
_ENUMS: Mapping[str, type[NodeReappearance] | type[NodeComplete]] = {
    "node_reappearance": NodeReappearance,
    "node_cr": NodeComplete,
}
_OPTIONAL_INT = frozenset({"pfs_max_missed_scans"})
_NON_NEGATIVE = frozenset(
    {
        "policy_version",
        "confirm_days",
        "max_ne_between",
        "sd_min_days",
        "pfs_max_missed_scans",
        "pfs_scan_interval_days",
        "irecist_confirm_min_days",
        "irecist_confirm_max_days",
        "irecist_new_target_max",
        "irecist_new_target_max_per_organ",
    }
)


def profile(name: str) -> AssessmentOptions:
    """The built-in profile ``name``.

    Raises
    ------
    InputError
        ``name`` is not a built-in profile (the message lists them).
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(
            f"unknown policy profile '{name}' (built-in: {', '.join(PROFILES)}; or a .toml file)",
            column="--policy",
        ) from None


def policy_from_mapping(values: Mapping[str, Any], source: str) -> AssessmentOptions:
    """A profile from the keys of a policy file, on top of its ``base`` profile.

    Parameters
    ----------
    values
        The file's keys (``name``, ``version``, ``base`` and :class:`AssessmentOptions` fields).
    source
        The file, for error messages.

    Raises
    ------
    InputError
        An unknown key, a value of the wrong type or out of range (naming the key and file).
    """
    base_name = values.get("base", DEFAULT_PROFILE)
    if not isinstance(base_name, str) or base_name not in PROFILES:
        raise InputError(
            f"policy key 'base': '{base_name}' is not a built-in profile ({', '.join(PROFILES)})",
            path=source,
        )
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key == "base":
            continue
        name = _RENAMED.get(key, key)
        if name not in _FIELDS or key in _RENAMED.values():
            known = ", ".join(
                ["name", "version", "base", *(n for n in _FIELDS if n[:6] != "policy")]
            )
            raise InputError(f"unknown policy key '{key}' (known keys: {known})", path=source)
        changes[name] = _checked(key, name, value, source)
    if "policy" not in changes:
        changes["policy"] = f"{base_name}+{source.rsplit('/', 1)[-1]}"
    options = dataclasses.replace(PROFILES[base_name], **changes)
    if options.irecist_confirm_max_days < options.irecist_confirm_min_days:
        raise InputError(
            f"policy key 'irecist_confirm_max_days' ({options.irecist_confirm_max_days}) is less "
            f"than 'irecist_confirm_min_days' ({options.irecist_confirm_min_days})",
            path=source,
        )
    return options


def _checked(key: str, name: str, value: Any, source: str) -> Any:
    """The value of one key, with the type the profile field has."""
    default = getattr(PROFILES[DEFAULT_PROFILE], name)

    def wrong(expected: str) -> InputError:
        return InputError(f"policy key '{key}' must be {expected}, not {value!r}", path=source)

    if name in _ENUMS:
        choices = [member.value for member in _ENUMS[name]]
        if value not in choices:
            raise wrong(" or ".join(f"'{c}'" for c in choices))
        return _ENUMS[name](value)
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if isinstance(default, Decimal):
        # A TOML number, read exactly as written: 7.5 is Decimal("7.5"), not a binary fraction.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number of mm")
        mm = Decimal(str(value))
        if not mm.is_finite() or mm < 0:
            raise wrong("0 mm or more")
        return mm
    if isinstance(default, int) or name in _OPTIONAL_INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("a whole number")
        if name in _NON_NEGATIVE and value < 0:
            raise wrong("0 or more")
        return value
    if not isinstance(value, str) or not value.strip():
        raise wrong("a text")
    return value
