"""Undo and redo of a reading's edits. No Qt.

A :class:`~recistry_napari._reading.Reading` is immutable, so the history is a list of values:
every edit pushes the reading it produced; undo and redo move along the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from recistry_napari._reading import Reading

__all__ = ["History"]


@dataclass(slots=True)
class History:
    """The readings a session went through, and where it is among them.

    ``limit`` bounds memory: the oldest steps are dropped beyond it.
    """

    limit: int = 200
    _states: list[tuple[Reading, str]] = field(default_factory=list)
    _index: int = -1

    def reset(self, reading: Reading) -> None:
        """Start again from ``reading`` (a study opened or a reading restored)."""
        self._states = [(reading, "open")]
        self._index = 0

    def push(self, reading: Reading, what: str) -> None:
        """Record an edit; the edits undone before it can no longer be redone."""
        del self._states[self._index + 1 :]
        self._states.append((reading, what))
        if len(self._states) > self.limit:
            del self._states[0]
        self._index = len(self._states) - 1

    def amend(self, update: Callable[[Reading], Reading]) -> None:
        """Apply ``update`` to every recorded reading, adding no step.

        For values derived in the background from an edit (a lesion's PET uptake from its
        line): undoing a later edit must not lose them. ``update`` returns a reading unchanged
        where the value does not apply.
        """
        self._states = [(update(reading), what) for reading, what in self._states]

    @property
    def can_undo(self) -> bool:
        """True when there is an edit to undo."""
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        """True when there is an undone edit to redo."""
        return 0 <= self._index < len(self._states) - 1

    def undo(self) -> tuple[Reading, str] | None:
        """The reading before the last edit and what that edit was; ``None`` at the start."""
        if not self.can_undo:
            return None
        what = self._states[self._index][1]
        self._index -= 1
        return self._states[self._index][0], what

    def redo(self) -> tuple[Reading, str] | None:
        """The reading after the next undone edit and what it was; ``None`` at the end."""
        if not self.can_redo:
            return None
        self._index += 1
        return self._states[self._index]
