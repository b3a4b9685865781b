"""The bad-input corpus: every case is one line on stderr naming the file and field, exit 2.

Each case runs the real command line (in-process) on a fresh copy of a small world: a
measurement table and a clinical table of two synthetic patients, and a study store holding
their DICOM index and readings. After the command, the case checks the promises of
docs/security.md: exit status 2, exactly one stderr line that names the file and the field (row,
column, option or DICOM tag), no traceback, no file left behind (SQLite's own ``-wal``/``-shm``
sidecars aside), and a store whose ``sqlite3 .dump``, ``user_version`` and ``application_id``
are what they were.
"""

from __future__ import annotations

import csv
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from recistry.cli import main
from tests.sr.conftest import Archive, build_archive

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(tmp_path_factory.mktemp("corpus"))


@dataclass
class World:
    """A fresh folder holding m.csv (measurements), c.csv (clinical) and s.db (the store)."""

    root: Path
    header: list[str]
    rows: list[dict[str, str]]

    @property
    def table(self) -> Path:
        return self.root / "m.csv"

    @property
    def clinical(self) -> Path:
        return self.root / "c.csv"

    @property
    def store(self) -> Path:
        return self.root / "s.db"

    def write(self, name: str, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
        path = self.root / name
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header or self.header)
            writer.writeheader()
            writer.writerows(rows)
        return path

    def mutated(self, column: str, value: str, row: int = 0, name: str = "bad.csv") -> Path:
        rows = [dict(r) for r in self.rows]
        rows[row][column] = value
        return self.write(name, rows, self.header + ([column] if column not in self.header else []))

    def foreign_db(self) -> Path:
        path = self.root / "invoices.db"
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
            conn.execute("INSERT INTO invoices (amount) VALUES (12.5)")
        return path


CLINICAL = (
    "patient_id,treatment_start,last_followup,death_date,who_grade\n"
    "SYN11-001,2024-01-10,2024-09-01,,1\n"
    "SYN11-002,2024-01-10,2024-09-01,,2\n"
)


@pytest.fixture
def world(archive: Archive, tmp_path: Path) -> World:
    root = tmp_path / "w"
    root.mkdir()
    shutil.copy(archive.table, root / "m.csv")
    (root / "c.csv").write_text(CLINICAL, encoding="utf-8")
    src = sqlite3.connect(archive.store)
    dst = sqlite3.connect(root / "s.db")
    src.backup(dst)
    src.close()
    dst.close()
    with (root / "m.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    return World(root, header, rows)


def dump(db: Path) -> tuple[str, int, int]:
    """``sqlite3 .dump`` of a file (read-only) with its user_version and application_id."""
    uri = f"{db.absolute().as_uri()}?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        text = "\n".join(conn.iterdump())
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app = conn.execute("PRAGMA application_id").fetchone()[0]
    finally:
        conn.close()
    return text, version, app


def listing(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size if p.is_file() else -1
        for p in sorted(root.rglob("*"))
        if not p.name.endswith(("-wal", "-shm"))
    }


@dataclass(frozen=True)
class Case:
    """A bad input: how to make it (returns argv), and what the one stderr line must name."""

    id: str
    make: Callable[[World], list[str]]
    names: tuple[str, ...]
    databases: tuple[str, ...] = field(default=("s.db",))


def _table_case(
    column: str, value: str, names: tuple[str, ...], *, command: str, row: int = 0
) -> Case:
    def make(w: World) -> list[str]:
        bad = w.mutated(column, value, row)
        if command == "import":
            return ["import", str(bad), "--store", str(w.store)]
        return [command, str(bad), *(["--out", str(w.root / "rep")] if command == "report" else [])]

    return Case(f"{command}-{column}={value[:20]!r}", make, ("bad.csv", *names))


# (column, bad value, what the line names besides the file)
TABLE_VALUES = [
    ("patient_id", "", ("row 1", "patient_id")),
    ("date", "2024-13-01", ("row 1", "date")),
    ("date", "yesterday", ("row 1", "date")),
    ("date", "", ("row 1", "date")),
    ("lesion_id", "", ("row 1", "lesion_id")),
    ("role", "boss", ("row 1", "role")),
    ("role", "", ("row 1", "role")),
    ("site", "", ("row 1", "site")),
    ("nodal", "maybe", ("row 1", "nodal")),
    ("long_axis_mm", "abc", ("row 1", "long_axis_mm")),
    ("long_axis_mm", "-5", ("row 1", "long_axis_mm")),
    ("long_axis_mm", "1e300", ("row 6", "long_axis_mm")),
    ("long_axis_mm", "1" * 40, ("row 6", "long_axis_mm")),
    ("long_axis_mm", "inf", ("row 1", "long_axis_mm")),
    ("long_axis_mm", "NaN", ("row 1", "long_axis_mm")),
    ("long_axis_mm", "4,5", ("row 1", "long_axis_mm")),
    ("short_axis_mm", "x", ("row 1", "short_axis_mm")),
    ("short_axis_mm", "-1", ("row 1", "short_axis_mm")),
    ("state", "gone", ("row 1", "state")),
    ("slice_thickness_mm", "thin", ("row 1", "slice_thickness_mm")),
    ("slice_thickness_mm", "-2.5", ("row 1", "slice_thickness_mm")),
]
# Columns only the store validates (rescore passes them through).
STORE_VALUES = [
    ("krenning", "7", ("row 1", "krenning")),
    ("krenning", "high", ("row 1", "krenning")),
    ("suv_max", "abc", ("row 1", "suv_max")),
    ("suv_max", "-1", ("row 1", "suv_max")),
    ("suv_max", "inf", ("row 1", "suv_max")),
    ("study_uid", "1.2.abc", ("row 1", "study_uid")),
    ("series_uid", "1." + "2" * 70, ("row 1", "series_uid")),
    ("sop_instance_uid", "not-a-uid", ("row 1", "sop_instance_uid")),
    ("tracking_uid", "x.y", ("row 1", "tracking_uid")),
    ("frame_of_reference_uid", "1..2", ("row 1", "frame_of_reference_uid")),
    ("long_axis_start_mm", "1 2 3", ("row 1", "long_axis_end_mm")),
]


CASES: list[Case] = []
for _column, _value, _names in TABLE_VALUES:
    # Sizes that break exact arithmetic are checked on a follow-up row.
    _row = 5 if _value in ("1e300", "1" * 40) else 0
    for _command in ("rescore", "import"):
        CASES.append(_table_case(_column, _value, _names, command=_command, row=_row))
for _column, _value, _names in TABLE_VALUES[:6]:
    CASES.append(_table_case(_column, _value, _names, command="report"))
for _column, _value, _names in STORE_VALUES:
    CASES.append(_table_case(_column, _value, _names, command="import"))


def _raw_file(content: bytes, name: str = "raw.csv") -> Callable[[World], Path]:
    def write(w: World) -> Path:
        path = w.root / name
        path.write_bytes(content)
        return path

    return write


def _header_bytes(w: World) -> bytes:
    return (",".join(w.header) + "\n").encode()


def _structural(case_id: str, build: Callable[[World], Path], names: tuple[str, ...]) -> None:
    for command in ("rescore", "import"):

        def make(w: World, command: str = command) -> list[str]:
            path = build(w)
            return [command, str(path)] + (["--store", str(w.store)] if command == "import" else [])

        CASES.append(Case(f"{command}-{case_id}", make, names))


_structural("empty-file", _raw_file(b""), ("raw.csv",))
_structural("binary", _raw_file(bytes(range(256)) * 4), ("raw.csv",))
_structural(
    "latin-1",
    lambda w: _raw_file(
        _header_bytes(w)
        + ",".join(w.rows[0][c] for c in w.header).replace("liver", "foie é").encode("latin-1")
        + b"\n"
    )(w),
    ("raw.csv", "row 1", "site"),
)
_structural(
    "missing-column",
    lambda w: w.write(
        "raw.csv",
        [{k: v for k, v in r.items() if k != "role"} for r in w.rows],
        [c for c in w.header if c != "role"],
    ),
    ("raw.csv", "role"),
)
_structural(
    "extra-cell",
    lambda w: _raw_file(
        w.table.read_bytes().replace(b"\n", b",surplus\n", 2).replace(b",surplus\n", b"\n", 1)
    )(w),
    ("raw.csv", "row 1"),
)
_structural(
    "cell-over-128kB",
    lambda w: _raw_file(
        _header_bytes(w)
        + (",".join(w.rows[0][c] for c in w.header) + ",").encode()
        + b'"'
        + b"x" * 200_000
        + b'"\n'
    )(w),
    ("raw.csv", "row 1"),
)
_structural("no-such-file", lambda w: w.root / "missing.csv", ("missing.csv",))
_structural("corrupt-parquet", _raw_file(b"PAR1 not really", "raw.parquet"), ("raw.parquet",))


def _appended(row: dict[str, str]) -> Callable[[World], Path]:
    def build(w: World) -> Path:
        base = {c: "" for c in w.header}
        return w.write("bad.csv", [*w.rows, {**base, **row}])

    return build


# What rescore refuses, import refuses too (one validation: recistry.recist.validate_patient).
SEMANTIC = [
    (
        "target-first-seen-after-baseline",
        {
            "patient_id": "SYN11-001",
            "date": "2024-03-11",
            "lesion_id": "L9",
            "role": "target",
            "site": "liver",
            "nodal": "false",
            "long_axis_mm": "20.0",
            "state": "measured",
        },
        ("bad.csv", "L9"),
    ),
    (
        "new-lesion-at-baseline",
        {
            "patient_id": "SYN11-001",
            "date": "2024-01-15",
            "lesion_id": "X1",
            "role": "new",
            "site": "liver",
            "nodal": "false",
            "state": "present",
        },
        ("bad.csv", "X1"),
    ),
]
for _id, _row, _names in SEMANTIC:
    _structural(_id, _appended(_row), _names)


def _duplicate(w: World) -> Path:
    return w.write("bad.csv", [*w.rows, dict(w.rows[0])])


CASES.extend(
    Case(
        f"{command}-duplicated-measured-target",
        lambda w, command=command: (
            [command, str(_duplicate(w))]
            + (["--store", str(w.store)] if command == "import" else [])
        ),
        ("bad.csv", "row", "'fragment'", "given twice"),
    )
    for command in ("import", "rescore")
)


def _clinical(text: str) -> Callable[[World], Path]:
    def build(w: World) -> Path:
        path = w.root / "bad_c.csv"
        path.write_text(text, encoding="utf-8")
        return path

    return build


CLINICAL_CASES = [
    (
        "duplicate-patient",
        CLINICAL + "SYN11-002,2024-01-10,2024-09-01,,2\n",
        ("row 3", "patient_id"),
    ),
    ("bad-date", CLINICAL.replace("2024-09-01", "2024-02-30", 1), ("row 1", "last_followup")),
    (
        "followup-before-start",
        CLINICAL.replace("2024-09-01", "2023-01-01", 1),
        ("row 1", "last_followup"),
    ),
    (
        "death-before-followup",
        CLINICAL.replace("2024-09-01,,1", "2024-09-01,2024-08-01,1"),
        ("row 1", "last_followup"),
    ),
    ("unknown-patient", CLINICAL + "NOBODY,2024-01-10,2024-09-01,,1\n", ("row 3", "patient_id")),
    ("no-patient-column", "id,treatment_start\nSYN11-001,2024-01-10\n", ("patient_id",)),
    (
        "scan-after-death",
        CLINICAL.replace("2024-09-01,,1", "2024-02-01,2024-02-01,1"),
        ("row 1", "death_date"),
    ),
]
for _id, _text, _names in CLINICAL_CASES:
    CASES.append(
        Case(
            f"import-clinical-{_id}",
            lambda w, t=_text: [
                "import",
                "--clinical",
                str(_clinical(t)(w)),
                "--store",
                str(w.store),
            ],
            ("bad_c.csv", *_names),
        )
    )
    CASES.append(
        Case(
            f"rescore-clinical-{_id}",
            lambda w, t=_text: ["rescore", str(w.table), "--clinical", str(_clinical(t)(w))],
            ("bad_c.csv", *_names),
        )
    )


SAMPLE_SR = next((Path(__file__).parent.parent / "sample_dicom/demo_patient/sr").rglob("*.dcm"))


def _not_sr(w: World) -> Path:
    """A folder holding one real SR file cut short."""
    folder = w.root / "srs"
    folder.mkdir()
    (folder / "a.dcm").write_bytes(SAMPLE_SR.read_bytes()[:700])
    return folder


CASES += [
    Case(
        "import-sr-folder-with-a-broken-file-strict",
        lambda w: ["import", str(_not_sr(w)), "--store", str(w.store), "--strict"],
        ("a.dcm",),
    ),
    Case(
        "rescore-sr-folder-with-a-broken-file",
        lambda w: ["rescore", str(_not_sr(w))],
        ("a.dcm",),
    ),
    Case(
        "import-empty-sr-folder",
        lambda w: ["import", str((w.root / "none").resolve()), "--store", str(w.store)],
        ("none",),
    ),
]


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _file(path: Path) -> Path:
    path.write_text("keep me\n", encoding="utf-8")
    return path


def _foreign_folder(path: Path) -> Path:
    path.mkdir()
    (path / "thesis.docx").write_text("mine\n", encoding="utf-8")
    return path


def _not_sqlite(w: World) -> Path:
    return _file(w.root / "notes.db")


def _newer(w: World) -> Path:
    path = w.root / "newer.db"
    shutil.copy(w.store, path)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 999")
    return path


STORE_CASES: list[tuple[str, Callable[[World], Path], tuple[str, ...]]] = [
    ("foreign-sqlite", lambda w: w.foreign_db(), ("invoices.db", "not a recistry store")),
    ("not-sqlite", _not_sqlite, ("notes.db",)),
    ("store-is-a-folder", lambda w: _mkdir(w.root / "dir.db"), ("dir.db",)),
    ("newer-schema", _newer, ("newer.db", "newer")),
]
for _id, _build, _names in STORE_CASES:
    _dbs = (
        ("s.db", Path(_names[0]).name) if _id in ("foreign-sqlite", "newer-schema") else ("s.db",)
    )
    CASES += [
        Case(
            f"import-{_id}",
            lambda w, b=_build: ["import", str(w.table), "--store", str(b(w))],
            _names,
            _dbs,
        ),
        Case(f"rescore-{_id}", lambda w, b=_build: ["rescore", str(b(w))], _names, _dbs)
        if _id != "store-is-a-folder"
        else Case(
            "import-accept-store-is-a-folder",
            lambda w, b=_build: ["import", "--accept-reader", "dr_a", "--store", str(b(w))],
            _names,
        ),
        Case(
            f"audit-{_id}",
            lambda w, b=_build: ["audit", "SYN11-001", "--store", str(b(w))],
            _names,
            _dbs,
        ),
        Case(
            f"export-{_id}",
            lambda w, b=_build: ["export", str(w.root / "out"), "--store", str(b(w))],
            _names,
            _dbs,
        ),
        Case(
            f"import-clinical-{_id}",
            lambda w, b=_build: ["import", "--clinical", str(w.clinical), "--store", str(b(w))],
            _names,
            _dbs,
        ),
    ]

CASES += [
    Case("rescore-missing-store", lambda w: ["rescore", str(w.root / "x.db")], ("x.db",)),
    Case(
        "audit-missing-store",
        lambda w: ["audit", "P", "--store", str(w.root / "x.db")],
        ("x.db", "no such store"),
    ),
    Case(
        "export-missing-store",
        lambda w: ["export", str(w.root / "out"), "--store", str(w.root / "x.db")],
        ("x.db", "no such store"),
    ),
]

# Options and output paths: refused before any work.
CASES += [
    Case(
        "rescore-negative-confirm-days",
        lambda w: ["rescore", str(w.table), "--confirm-days", "-1"],
        ("--confirm-days",),
    ),
    Case(
        "rescore-reader-without-store",
        lambda w: ["rescore", str(w.table), "--reader", "dr_a"],
        ("m.csv", "--reader"),
    ),
    Case("rescore-bad-by", lambda w: ["rescore", str(w.table), "--by", "a=b=c"], ("--by",)),
    Case(
        "rescore-out-is-a-file",
        lambda w: ["rescore", str(w.table), "--out", str(_file(w.root / "o.txt"))],
        ("o.txt", "is a file"),
    ),
    Case(
        "rescore-out-under-a-file",
        lambda w: ["rescore", str(w.table), "--out", str(_file(w.root / "o.txt") / "sub")],
        ("o.txt", "is a file"),
    ),
    Case(
        "report-out-is-a-file",
        lambda w: ["report", str(w.table), "--out", str(_file(w.root / "r.txt"))],
        ("r.txt", "is a file"),
    ),
    Case(
        "report-out-is-a-folder-of-other-files",
        lambda w: ["report", str(w.table), "--out", str(_foreign_folder(w.root / "mine"))],
        ("mine", "did not write"),
    ),
    Case(
        "report-bad-adverse-events",
        lambda w: [
            "report",
            str(w.table),
            "--adverse-events",
            str(_file(w.root / "ae.csv")),
            "--out",
            str(w.root / "rep"),
        ],
        ("ae.csv",),
    ),
    Case(
        "export-out-is-a-file",
        lambda w: ["export", str(_file(w.root / "e.txt")), "--store", str(w.store)],
        ("e.txt", "is a file"),
    ),
    Case(
        "export-out-is-a-folder-of-other-files",
        lambda w: ["export", str(_foreign_folder(w.root / "mine")), "--store", str(w.store)],
        ("mine", "did not write"),
    ),
    Case(
        "export-unknown-reader",
        lambda w: ["export", str(w.root / "out"), "--store", str(w.store), "--reader", "nobody"],
        ("s.db", "nobody"),
    ),
    Case(
        "audit-out-is-a-folder",
        lambda w: [
            "audit",
            "SYN11-001",
            "--store",
            str(w.store),
            "--out",
            str(_mkdir(w.root / "d")),
        ],
        ("d", "is a folder"),
    ),
    Case(
        "audit-out-under-a-file",
        lambda w: [
            "audit",
            "SYN11-001",
            "--store",
            str(w.store),
            "--out",
            str(_file(w.root / "f.txt") / "a.html"),
        ],
        ("f.txt", "is a file"),
    ),
    Case(
        "audit-unknown-patient",
        lambda w: ["audit", "NOBODY", "--store", str(w.store)],
        ("NOBODY",),
    ),
    Case(
        "audit-pseudonymize-without-key",
        lambda w: ["audit", "SYN11-001", "--store", str(w.store), "--pseudonymize"],
        ("--key-file",),
    ),
    Case(
        "export-pseudonymize-short-key",
        lambda w: [
            "export",
            str(w.root / "out"),
            "--store",
            str(w.store),
            "--pseudonymize",
            "--key-file",
            str(_file(w.root / "k.txt")),
        ],
        ("k.txt", "shorter than"),
    ),
    Case(
        "export-pseudonymize-missing-key-file",
        lambda w: [
            "export",
            str(w.root / "out"),
            "--store",
            str(w.store),
            "--pseudonymize",
            "--key-file",
            str(w.root / "nokey"),
        ],
        ("nokey",),
    ),
    Case(
        "import-nothing-to-do",
        lambda w: ["import", "--store", str(w.store)],
        ("PATH", "--clinical"),
    ),
    Case(
        "import-patient-without-accept-reader",
        lambda w: ["import", str(w.table), "--store", str(w.store), "--patient", "P"],
        ("--patient",),
    ),
    Case(
        "import-accept-unknown-reader",
        lambda w: ["import", "--accept-reader", "nobody", "--store", str(w.store)],
        ("s.db", "nobody"),
    ),
    Case(
        "import-accept-reader-for-unknown-patient",
        lambda w: [
            "import",
            "--accept-reader",
            "dr_a",
            "--patient",
            "NOBODY",
            "--store",
            str(w.store),
        ],
        ("s.db", "NOBODY"),
    ),
    Case(
        "import-clinical-is-a-folder",
        lambda w: ["import", "--clinical", str(_mkdir(w.root / "cdir")), "--store", str(w.store)],
        ("cdir",),
    ),
]


def _indexed_image_at(target: Callable[[World], Path]) -> Callable[[World], list[str]]:
    """The store's index points one measured image at ``target`` (a moved or damaged file)."""

    def make(w: World) -> list[str]:
        path = target(w)
        with sqlite3.connect(w.store) as conn:
            conn.execute(
                "UPDATE instances SET path = ? WHERE sop_instance_uid = ?",
                (str(path), w.rows[0]["sop_instance_uid"]),
            )
        conn.close()
        return ["export", str(w.root / "out"), "--store", str(w.store)]

    return make


def _ct_only_folder(w: World) -> Path:
    folder = w.root / "cts"
    folder.mkdir()
    (folder / "ct.dcm").write_bytes(SAMPLE_SR.read_bytes()[:128] + b"DICM")
    return folder


CASES += [
    Case(
        "export-indexed-image-is-not-dicom",
        _indexed_image_at(lambda w: _file(w.root / "moved.dcm")),
        ("moved.dcm", "re-run 'recistry index'"),
    ),
    Case(
        "export-indexed-path-now-holds-another-patient",
        _indexed_image_at(lambda w: _raw_file(SAMPLE_SR.read_bytes()[:300], "cut.dcm")(w)),
        ("s.db", "sop_instance_uid", "another patient"),
    ),
    Case(
        "export-indexed-image-is-gone",
        _indexed_image_at(lambda w: w.root / "gone.dcm"),
        ("gone.dcm",),
    ),
    Case(
        "rescore-folder-without-sr",
        lambda w: ["rescore", str(_ct_only_folder(w))],
        ("cts",),
    ),
]


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(
    case: Case, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = case.make(world)
    capsys.readouterr()
    before_files = listing(world.root)
    before_dbs = {
        name: dump(world.root / name) for name in case.databases if (world.root / name).is_file()
    }
    status = main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert status == 2, (status, captured.err)
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"recistry {argv[0]}: error: "), lines[0]
    assert "Traceback" not in captured.err + captured.out
    for name in case.names:
        assert name in lines[0], (name, lines[0])
    assert listing(world.root) == before_files
    for name, before in before_dbs.items():
        assert dump(world.root / name) == before, name


def test_a_real_process_prints_one_line_and_no_traceback(world: World) -> None:
    """The same promises through a real process: warnings and logging included."""
    cases = [
        ["rescore", str(world.mutated("long_axis_mm", "1e300", row=5))],
        ["import", str(world.table), "--store", str(world.foreign_db())],
        ["audit", "SYN11-001", "--store", str(world.store), "--out", str(_mkdir(world.root / "d"))],
    ]
    for argv in cases:
        done = subprocess.run(
            [sys.executable, "-m", "recistry.cli", *argv],
            capture_output=True,
            text=True,
            timeout=120,
        )
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert "Traceback" not in done.stderr


def test_an_unexpected_exception_is_exit_1_with_a_hint(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (here: the table reader raising ZeroDivisionError) is one line and exit 1; with -v
    the traceback follows."""
    import recistry.tables

    def broken(path: object) -> object:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(recistry.tables, "read_clinical", broken)
    argv = ["rescore", str(world.table), "--clinical", str(world.clinical)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ZeroDivisionError" in err and "-v" in err
    assert main(["-v", *argv]) == 1
    assert "Traceback" in capsys.readouterr().err
