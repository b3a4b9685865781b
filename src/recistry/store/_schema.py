"""The store's SQLite schema as an ordered list of migrations.

``PRAGMA user_version`` holds the number of migrations applied. A migration is never edited once
released: change the schema by appending one, so that every existing store upgrades in place.

Append-only is enforced by the database itself: triggers abort any UPDATE or DELETE on the tables
that hold readings, so no code path (or hand-written SQL) can overwrite history.
"""

from __future__ import annotations

_APPEND_ONLY_TABLES = (
    "imports",
    "measurements",
    "axis_endpoints",
    "clinical",
    "acceptances",
    "lesions",
)


def _append_only_triggers(tables: tuple[str, ...] = _APPEND_ONLY_TABLES) -> str:
    statements = []
    for table in tables:
        for action in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: write a new revision'); END;"
            )
    return "\n".join(statements)


_V1 = """
CREATE TABLE imports (
    import_id    INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('table', 'sr', 'index', 'clinical', 'accept')),
    source       TEXT NOT NULL,
    author       TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,   -- UTC, ISO 8601
    software     TEXT NOT NULL    -- 'recistry <version>'
);

CREATE TABLE patients (
    patient_pk   INTEGER PRIMARY KEY,
    patient_id   TEXT NOT NULL UNIQUE
);

CREATE TABLE studies (
    study_pk     INTEGER PRIMARY KEY,
    study_uid    TEXT NOT NULL UNIQUE,
    patient_pk   INTEGER NOT NULL REFERENCES patients (patient_pk),
    study_date   TEXT,
    description  TEXT
);

CREATE TABLE series (
    series_pk    INTEGER PRIMARY KEY,
    series_uid   TEXT NOT NULL UNIQUE,
    study_pk     INTEGER NOT NULL REFERENCES studies (study_pk),
    modality     TEXT,
    frame_of_reference_uid TEXT,
    description  TEXT
);

CREATE TABLE instances (
    instance_pk      INTEGER PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL UNIQUE,
    series_pk        INTEGER NOT NULL REFERENCES series (series_pk),
    sop_class_uid    TEXT,
    instance_number  INTEGER,
    path             TEXT NOT NULL,
    import_id        INTEGER NOT NULL REFERENCES imports (import_id)
);

CREATE TABLE readers (
    reader_pk    INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE
);

-- The read a cohort uses for a patient is the reader of the patient's latest acceptance.
CREATE TABLE acceptances (
    acceptance_pk INTEGER PRIMARY KEY,
    patient_pk    INTEGER NOT NULL REFERENCES patients (patient_pk),
    reader_pk     INTEGER NOT NULL REFERENCES readers (reader_pk),
    import_id     INTEGER NOT NULL REFERENCES imports (import_id)
);

-- A lesion's identity; the tracking UID is kept across time points and readers (TID 4108).
CREATE TABLE lesions (
    lesion_pk    INTEGER PRIMARY KEY,
    patient_pk   INTEGER NOT NULL REFERENCES patients (patient_pk),
    lesion_id    TEXT NOT NULL,
    tracking_uid TEXT NOT NULL UNIQUE,
    UNIQUE (patient_pk, lesion_id)
);

-- One row per revision of one lesion x scan date x reader; the highest revision is in force.
CREATE TABLE measurements (
    measurement_pk   INTEGER PRIMARY KEY,
    lesion_pk        INTEGER NOT NULL REFERENCES lesions (lesion_pk),
    reader_pk        INTEGER NOT NULL REFERENCES readers (reader_pk),
    scan_date        TEXT NOT NULL,             -- ISO date
    revision         INTEGER NOT NULL CHECK (revision >= 1),
    supersedes       INTEGER REFERENCES measurements (measurement_pk),
    import_id        INTEGER NOT NULL REFERENCES imports (import_id),
    role             TEXT NOT NULL CHECK (role IN ('target', 'non_target', 'new')),
    site             TEXT NOT NULL,
    nodal            INTEGER NOT NULL CHECK (nodal IN (0, 1)),
    state            TEXT NOT NULL,
    -- Sizes and SUVs are exact decimal text (mm; SUVbw g/ml) so a re-score is bit-identical.
    long_axis_mm     TEXT,
    short_axis_mm    TEXT,
    slice_thickness_mm TEXT,
    study_uid        TEXT,
    series_uid       TEXT,
    sop_instance_uid TEXT,
    frame_of_reference_uid TEXT,
    suv_max          TEXT,
    suv_peak         TEXT,
    liver_suv_mean   TEXT,
    spleen_suv_mean  TEXT,
    krenning         INTEGER CHECK (krenning BETWEEN 0 AND 4),
    tool             TEXT,
    measured_at      TEXT,
    extra_json       TEXT NOT NULL DEFAULT '{}',
    source_path      TEXT,
    source_row       INTEGER,
    UNIQUE (lesion_pk, reader_pk, scan_date, revision)
);
CREATE INDEX measurements_by_reader ON measurements (reader_pk, lesion_pk, scan_date);

-- Two-point line of a measured axis in patient coordinates (LPS, mm) of the frame of reference
-- recorded with the measurement.
CREATE TABLE axis_endpoints (
    measurement_pk INTEGER NOT NULL REFERENCES measurements (measurement_pk),
    axis           TEXT NOT NULL CHECK (axis IN ('long', 'short')),
    x1 REAL NOT NULL, y1 REAL NOT NULL, z1 REAL NOT NULL,
    x2 REAL NOT NULL, y2 REAL NOT NULL, z2 REAL NOT NULL,
    PRIMARY KEY (measurement_pk, axis)
);

CREATE TABLE clinical (
    clinical_pk      INTEGER PRIMARY KEY,
    patient_pk       INTEGER NOT NULL REFERENCES patients (patient_pk),
    revision         INTEGER NOT NULL CHECK (revision >= 1),
    import_id        INTEGER NOT NULL REFERENCES imports (import_id),
    treatment_start  TEXT,
    last_followup    TEXT,
    death_date       TEXT,
    covariates_json  TEXT NOT NULL DEFAULT '{}',
    source_path      TEXT,
    source_row       INTEGER,
    UNIQUE (patient_pk, revision)
);

CREATE VIEW measurements_in_force AS
SELECT m.* FROM measurements AS m
WHERE m.revision = (
    SELECT MAX(n.revision) FROM measurements AS n
    WHERE n.lesion_pk = m.lesion_pk AND n.reader_pk = m.reader_pk AND n.scan_date = m.scan_date
);
""" + _append_only_triggers()

_V2 = """
-- A new anticancer therapy ends what counts for best response and PFS (FDA guidance, App. 2-3).
ALTER TABLE clinical ADD COLUMN new_therapy_date TEXT;
"""

_ADJUDICATIONS = """
-- An adjudicator's choice between independent reads of one patient: who, when and why. The
-- acceptance it records is the patient's read in use until a later acceptance.
CREATE TABLE adjudications (
    adjudication_pk INTEGER PRIMARY KEY,
    acceptance_pk   INTEGER NOT NULL UNIQUE REFERENCES acceptances (acceptance_pk),
    adjudicator     TEXT NOT NULL CHECK (length(trim(adjudicator)) > 0),
    reason          TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    recorded_at     TEXT NOT NULL   -- UTC, ISO 8601
);
CREATE TRIGGER adjudications_no_update BEFORE UPDATE ON adjudications
BEGIN SELECT RAISE(ABORT, 'adjudications is append-only: write a new revision'); END;
CREATE TRIGGER adjudications_no_delete BEFORE DELETE ON adjudications
BEGIN SELECT RAISE(ABORT, 'adjudications is append-only: write a new revision'); END;
"""

_LESIONS_WITHOUT_ROLE = """
-- Lesions read from reports that give no RECIST role (OHIF, Slicer): the reading carries
-- extra 'role_unassigned' and its role column is a placeholder that scoring refuses.
CREATE VIEW lesions_without_role AS
SELECT m.measurement_pk, m.lesion_pk, m.reader_pk, m.scan_date FROM measurements_in_force AS m
WHERE json_extract(m.extra_json, '$.role_unassigned') = '1';
"""

_STORE_IDENTITY_AND_APPEND_ONLY_NAMES = """
-- What makes a file a recistry store (with PRAGMA application_id, set by the code that migrates):
-- any other SQLite database is refused untouched.
CREATE TABLE recistry_store (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
INSERT INTO recistry_store (key, value) VALUES ('format', 'recistry study store');
CREATE TRIGGER recistry_store_no_update BEFORE UPDATE ON recistry_store
BEGIN SELECT RAISE(ABORT, 'recistry_store is append-only'); END;
CREATE TRIGGER recistry_store_no_delete BEFORE DELETE ON recistry_store
BEGIN SELECT RAISE(ABORT, 'recistry_store is append-only'); END;
-- Readers and patients are history too: a name or ID once written stays what it was.
CREATE TRIGGER readers_no_update BEFORE UPDATE ON readers
BEGIN SELECT RAISE(ABORT, 'readers is append-only: write a new revision'); END;
CREATE TRIGGER readers_no_delete BEFORE DELETE ON readers
BEGIN SELECT RAISE(ABORT, 'readers is append-only: write a new revision'); END;
CREATE TRIGGER patients_no_update BEFORE UPDATE ON patients
BEGIN SELECT RAISE(ABORT, 'patients is append-only: write a new revision'); END;
CREATE TRIGGER patients_no_delete BEFORE DELETE ON patients
BEGIN SELECT RAISE(ABORT, 'patients is append-only: write a new revision'); END;
"""

_SPLIT_LESION_FRAGMENTS = """
-- A target that splits is measured as fragments whose diameters are summed (RECIST 1.1 §4.4 /
-- recist-rules.md "Lesions that split"): one row per fragment, named in ``fragment`` ('' for a
-- whole lesion). A revision is the set of rows of one lesion x reader x scan date, so the
-- uniqueness gains the fragment. SQLite cannot change a UNIQUE constraint in place: the table is
-- rebuilt (with axis_endpoints, which refers to it) in this migration's transaction, the new
-- tables referring to each other by their new names so that no foreign key is ever dangling.
DROP VIEW lesions_without_role;
DROP VIEW measurements_in_force;
CREATE TABLE measurements_new (
    measurement_pk   INTEGER PRIMARY KEY,
    lesion_pk        INTEGER NOT NULL REFERENCES lesions (lesion_pk),
    reader_pk        INTEGER NOT NULL REFERENCES readers (reader_pk),
    scan_date        TEXT NOT NULL,             -- ISO date
    revision         INTEGER NOT NULL CHECK (revision >= 1),
    supersedes       INTEGER REFERENCES measurements_new (measurement_pk),
    import_id        INTEGER NOT NULL REFERENCES imports (import_id),
    role             TEXT NOT NULL CHECK (role IN ('target', 'non_target', 'new')),
    site             TEXT NOT NULL,
    nodal            INTEGER NOT NULL CHECK (nodal IN (0, 1)),
    state            TEXT NOT NULL,
    -- Sizes and SUVs are exact decimal text (mm; SUVbw g/ml) so a re-score is bit-identical.
    long_axis_mm     TEXT,
    short_axis_mm    TEXT,
    slice_thickness_mm TEXT,
    study_uid        TEXT,
    series_uid       TEXT,
    sop_instance_uid TEXT,
    frame_of_reference_uid TEXT,
    suv_max          TEXT,
    suv_peak         TEXT,
    liver_suv_mean   TEXT,
    spleen_suv_mean  TEXT,
    krenning         INTEGER CHECK (krenning BETWEEN 0 AND 4),
    tool             TEXT,
    measured_at      TEXT,
    extra_json       TEXT NOT NULL DEFAULT '{}',
    source_path      TEXT,
    source_row       INTEGER,
    fragment         TEXT NOT NULL DEFAULT '',
    UNIQUE (lesion_pk, reader_pk, scan_date, revision, fragment)
);
CREATE TABLE axis_endpoints_new (
    measurement_pk INTEGER NOT NULL REFERENCES measurements_new (measurement_pk),
    axis           TEXT NOT NULL CHECK (axis IN ('long', 'short')),
    x1 REAL NOT NULL, y1 REAL NOT NULL, z1 REAL NOT NULL,
    x2 REAL NOT NULL, y2 REAL NOT NULL, z2 REAL NOT NULL,
    PRIMARY KEY (measurement_pk, axis)
);
INSERT INTO measurements_new SELECT *, '' FROM measurements ORDER BY measurement_pk;
INSERT INTO axis_endpoints_new SELECT * FROM axis_endpoints;
DROP TABLE axis_endpoints;
DROP TABLE measurements;
ALTER TABLE measurements_new RENAME TO measurements;
ALTER TABLE axis_endpoints_new RENAME TO axis_endpoints;
CREATE INDEX measurements_by_reader ON measurements (reader_pk, lesion_pk, scan_date);
CREATE VIEW measurements_in_force AS
SELECT m.* FROM measurements AS m
WHERE m.revision = (
    SELECT MAX(n.revision) FROM measurements AS n
    WHERE n.lesion_pk = m.lesion_pk AND n.reader_pk = m.reader_pk AND n.scan_date = m.scan_date
);
CREATE VIEW lesions_without_role AS
SELECT m.measurement_pk, m.lesion_pk, m.reader_pk, m.scan_date FROM measurements_in_force AS m
WHERE json_extract(m.extra_json, '$.role_unassigned') = '1';
""" + _append_only_triggers(("measurements", "axis_endpoints"))

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _ADJUDICATIONS,
    _LESIONS_WITHOUT_ROLE,
    _STORE_IDENTITY_AND_APPEND_ONLY_NAMES,
    _SPLIT_LESION_FRAGMENTS,
)
"""Migration ``i`` (0-based) brings a store from ``user_version`` i to i + 1."""

SCHEMA_VERSION = len(MIGRATIONS)
