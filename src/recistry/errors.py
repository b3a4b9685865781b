"""The exceptions recistry raises for problems the user can fix.

Every message names the thing to fix (file, row, column, DICOM tag) and what was wrong, so the
CLI prints it as one line and exits with status 2, without a traceback.
"""

from __future__ import annotations


class RecistryError(Exception):
    """Base class of every error recistry reports to the user."""


class InputError(RecistryError):
    """A table, file or value is not valid input.

    Fix the named file at the named row and column, then run the command again.

    Parameters
    ----------
    message
        What is wrong, in words a data manager understands.
    path
        The file the value came from, when there is one.
    row
        1-based data row (the header is row 0 and not counted), when the problem has one.
    column
        The column or field name, when the problem has one; a command-line option
        (``"--by"``) is shown as ``option --by``.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = [p for p in (self.path, f"row {self.row}" if self.row is not None else None) if p]
        if self.column:
            where.append(
                f"option {self.column}"
                if self.column.startswith("--")
                else f"column '{self.column}'"
            )
        return f"{', '.join(where)}: {self.message}" if where else self.message


class DicomError(RecistryError):
    """A DICOM file cannot be read or lacks what recistry needs.

    The message names the file and the DICOM tag (keyword and (gggg,eeee)); fix or exclude that
    file and run again.
    """

    def __init__(self, message: str, *, path: str | None = None, tag: str | None = None) -> None:
        self.message = message
        self.path = path
        self.tag = tag
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.path, f"tag {self.tag}" if self.tag else None) if p]
        return f"{', '.join(parts)}: {self.message}" if parts else self.message


class StoreError(RecistryError):
    """The study store cannot be opened or written; nothing was changed in it."""


class PacsError(RecistryError):
    """A PACS could not be reached, refused a request or sent something unusable.

    The message names the server (never its credentials) and what failed. Files already
    retrieved stay complete under their final names; run the same command again to resume.
    """
