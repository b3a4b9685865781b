"""The engine's value types (recistry.recist.model)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
from decimal import Decimal

import pytest

from recistry.recist.model import (
    LesionState,
    LesionValue,
    Measurement,
    Role,
    Source,
    TimepointAssessment,
    fast_constructor,
)


def test_fast_constructor_makes_the_value_the_class_makes() -> None:
    args = ("P1", dt.date(2024, 1, 2), "T1", Role.TARGET, "liver", False, LesionState.MEASURED)
    kwargs = {"long_axis_mm": Decimal("12.5"), "source": Source("t.csv", 3)}
    fast = fast_constructor(Measurement)(*args, **kwargs)
    slow = Measurement(*args, **kwargs)
    assert type(fast) is Measurement
    assert fast == slow and repr(fast) == repr(slow)
    assert fast.short_axis_mm is None and fast.extra == {}  # defaults, a fresh dict each
    assert fast.extra is not fast_constructor(Measurement)(*args).extra
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert hash(fast_constructor(Source)("t.csv", 3)) == hash(Source("t.csv", 3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.site = "lung"  # type: ignore[misc]


def test_fast_constructor_checks_its_arguments_as_the_class_does() -> None:
    with pytest.raises(TypeError):
        fast_constructor(LesionValue)("T1", Role.TARGET)  # lesion values have 6 required fields
    value = fast_constructor(TimepointAssessment)
    assert value is not TimepointAssessment


def test_fast_constructor_refuses_a_class_it_cannot_build() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            if self.x < 0:
                raise ValueError(self.x)

    for cls in (Mutable, Checked):
        with pytest.raises(TypeError, match="frozen slotted dataclass"):
            fast_constructor(cls)
