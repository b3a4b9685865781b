"""All-or-nothing outputs: files and folders that appear whole or not at all.

A file is written under a temporary name beside its target and renamed over it; a folder (a
report, an SR export) is built in a temporary folder beside its target and swapped in by rename,
the old folder kept until that moment. A process killed at any instant therefore leaves either
the old output or the new one, never a mixture; the temporaries it leaves (named
``.<target>.tmp-<pid>-…``) are removed by the next run that writes the same target.

Output paths are checked before any work (:func:`check_output_file`, :func:`check_output_folder`)
so that a command given a read-only folder or a file where a folder is expected fails in one
line at once, not after minutes of work.

This is the one implementation of atomic output in recistry; every command that writes files
uses it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from recistry.errors import InputError

__all__ = [
    "COMPLETE_MARKER",
    "atomic_file",
    "atomic_folder",
    "check_output_file",
    "check_output_folder",
    "check_output_folder_writable",
    "write_bytes_atomic",
    "write_text_atomic",
]

COMPLETE_MARKER = ".recistry-complete"
"""File written last into a folder output (export, report): its presence says the folder is
whole and was written by recistry, so a later run may replace it."""

_TMP = ".tmp-"
_OLD = ".old-"


def _temporary_prefix(target: Path, kind: str) -> str:
    return f".{target.name}{kind}{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(target: Path) -> None:
    """Remove the temporaries a killed run left beside ``target`` (never a live run's).

    A swap interrupted between its two renames (only possible where the kernel cannot exchange
    two paths atomically) is rolled back: the old folder is put back in place.
    """
    parent = target.parent
    if not parent.is_dir():
        return
    prefix = f".{target.name}"
    for entry in sorted(parent.iterdir()):
        name = entry.name
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        for kind in (_TMP, _OLD):
            if not rest.startswith(kind):
                continue
            pid_text = rest[len(kind) :].split("-", 1)[0]
            if not pid_text.isdigit() or (
                _pid_alive(int(pid_text)) and int(pid_text) != os.getpid()
            ):
                continue
            if kind == _OLD and not target.exists():
                entry.rename(target)
            elif entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()


def _probe_writable(folder: Path, what: Path) -> None:
    """Create and remove a file in ``folder``: the only check that is true for root too."""
    try:
        fd, name = tempfile.mkstemp(prefix=".recistry-probe-", dir=folder)
    except OSError as exc:
        raise InputError(
            f"cannot write in {folder}: {exc.strerror or exc}", path=str(what)
        ) from None
    os.close(fd)
    os.unlink(name)


def _existing_parent(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{parent} is a file, not a folder", path=str(path))
    return parent


def check_output_file(path: Path) -> None:
    """Fail now, in one line, if ``path`` cannot be written as a file.

    Raises
    ------
    InputError
        ``path`` is a folder, or its folder is a file or is not writable.
    """
    if path.is_dir():
        raise InputError("is a folder; give a file name", path=str(path))
    _probe_writable(_existing_parent(path), path)


def check_output_folder_writable(path: Path) -> None:
    """Fail now, in one line, if files cannot be written into the folder ``path``.

    The folder may exist and hold other files (files are written into it one by one, each
    atomically); it is created if missing.

    Raises
    ------
    InputError
        ``path`` is a file, or neither it nor its nearest existing parent is writable.
    """
    if path.exists() and not path.is_dir():
        raise InputError("is a file; give a folder", path=str(path))
    _probe_writable(path if path.is_dir() else _existing_parent(path), path)


def check_output_folder(path: Path) -> None:
    """Fail now, in one line, if ``path`` cannot be written as an output folder.

    The folder may exist (it is then replaced as a whole) only if it is empty or was written by
    recistry (it holds :data:`COMPLETE_MARKER`): a folder of other files is never replaced.

    Raises
    ------
    InputError
        ``path`` is a file, a folder of other files, or its parent is not writable.
    """
    if path.exists() and not path.is_dir():
        raise InputError("is a file; give a folder", path=str(path))
    if path.is_dir() and any(path.iterdir()) and not (path / COMPLETE_MARKER).exists():
        raise InputError(
            "folder exists and holds files recistry did not write; give a new or empty folder",
            path=str(path),
        )
    _probe_writable(_existing_parent(path), path)


def _fsync_tree(folder: Path) -> None:
    for root, _dirs, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step (Linux ``renameat2``); False if unsupported."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    renameat2.argtypes += [ctypes.c_uint]
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def atomic_folder(target: Path, *, marker: str = "") -> Iterator[Path]:
    """Build a folder output in a temporary folder and swap it in as a whole on success.

    Parameters
    ----------
    target
        The output folder. If it exists it must be empty or an earlier recistry output (see
        :func:`check_output_folder`); it is kept, untouched, until the new folder is complete.
    marker
        Text of the :data:`COMPLETE_MARKER` file written last into the folder (e.g. what the
        folder holds); keep it free of time stamps so that outputs stay reproducible.

    Yields
    ------
    Path
        The temporary folder to write into. On an exception it is removed and the target is
        left as it was.
    """
    check_output_folder(target)
    parent = _existing_parent(target)
    clean_stale(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target, _TMP), dir=parent))
    try:
        yield work
        (work / COMPLETE_MARKER).write_text(marker, encoding="utf-8")
        _fsync_tree(work)
        work.chmod(0o755 & ~_umask())
        if target.exists():
            if _exchange(work, target):
                shutil.rmtree(work, ignore_errors=True)
            else:
                old = Path(tempfile.mkdtemp(prefix=_temporary_prefix(target, _OLD), dir=parent))
                old.rmdir()
                target.rename(old)
                work.rename(target)
                shutil.rmtree(old, ignore_errors=True)
        else:
            work.rename(target)
        _fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """Write a file under a temporary name beside ``target``; rename it over ``target`` on success.

    Yields the temporary path; on an exception it is removed and ``target`` is left as it was.
    """
    check_output_file(target)
    clean_stale(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_temporary_prefix(target, _TMP), dir=target.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.chmod(0o666 & ~_umask())
        os.replace(temporary, target)
        _fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` all or nothing (see :func:`atomic_file`)."""
    with atomic_file(target) as temporary:
        temporary.write_bytes(data)


def write_text_atomic(target: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` all or nothing (see :func:`atomic_file`)."""
    write_bytes_atomic(target, text.encode("utf-8"))
