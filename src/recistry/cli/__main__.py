"""``python -m recistry.cli``: the same as the ``recistry`` command."""

from recistry.cli import entry_point

entry_point()
