"""The pulled tree's files: atomic writes, completeness checks, UIDs safe as file names."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from recistry.errors import PacsError
from recistry.pacs import InstanceRef, instance_path
from recistry.pacs.tree import checked_uid, is_complete, remove_partials, write_atomically
from tests.pacs.conftest import sample_files


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "x.dcm"

    def half(file: BinaryIO) -> None:
        file.write(b"\0" * 1000)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, half)
    assert list(tmp_path.rglob("*")) == [tmp_path / "a"]
    target.write_bytes(b"old")
    with pytest.raises(OSError):
        write_atomically(target, half)
    assert target.read_bytes() == b"old"  # the previous content stays whole
    write_atomically(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"new" and len(list(tmp_path.rglob("*"))) == 2


def test_completeness_needs_the_whole_file_and_the_right_uid(tmp_path: Path) -> None:
    import pydicom

    source = sample_files()[0]
    sop = str(pydicom.dcmread(source, stop_before_pixels=True).SOPInstanceUID)
    copy = tmp_path / "x.dcm"
    copy.write_bytes(source.read_bytes())
    assert is_complete(copy, sop)
    assert not is_complete(copy, sop + ".1")
    copy.write_bytes(source.read_bytes()[:-1])  # one byte of pixel data missing
    assert not is_complete(copy, sop)
    assert not is_complete(tmp_path / "absent.dcm", sop)


def test_tree_layout_and_partials(tmp_path: Path) -> None:
    ref = InstanceRef("SYN 1/../x", "1.2.3", "1.2.3.4", "1.2.3.4.5", "CT")
    path = instance_path(tmp_path, ref)
    assert path == tmp_path / "SYN_1_.._x" / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm"
    assert path.resolve().is_relative_to(tmp_path)
    path.parent.mkdir(parents=True)
    (path.parent / ".1.2.3.4.5.dcm.77.partial").write_bytes(b"x")
    (path.parent / "keep.dcm").write_bytes(b"x")
    assert remove_partials(tmp_path) == 1
    assert [p.name for p in path.parent.iterdir()] == ["keep.dcm"]


@pytest.mark.parametrize("bad", ["../../etc", "1.2.a", "", "1." + "2" * 70, "1..2"])
def test_a_server_uid_that_is_no_uid_is_refused(bad: str) -> None:
    with pytest.raises(PacsError, match="invalid SOPInstanceUID"):
        checked_uid(bad, "SOPInstanceUID", "http://pacs")
