"""Opening a study store: one SQLite file in WAL mode with foreign keys and migrations.

Every write goes through :meth:`Store.transaction`, which takes SQLite's write lock up front
(``BEGIN IMMEDIATE``) so that concurrent writers queue instead of failing half-way, and commits or
rolls back as a whole: an import that fails leaves the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from recistry import __version__
from recistry.errors import StoreError
from recistry.store._schema import MIGRATIONS, SCHEMA_VERSION

logger = logging.getLogger(__name__)

# Seconds a writer waits for another process's transaction before giving up. Imports of a whole
# archive hold the lock for seconds, so be generous.
BUSY_TIMEOUT_S = 120.0

_SQLITE_MAGIC = b"SQLite format 3\x00"


def is_store_file(path: str | Path) -> bool:
    """Whether ``path`` is an existing SQLite database file (checked by its 16-byte header)."""
    p = Path(path)
    if not p.is_file():
        return False
    with p.open("rb") as fh:
        return fh.read(16) == _SQLITE_MAGIC


def utc_now() -> str:
    """The current UTC time as ISO 8601 with seconds, the store's timestamp format."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


APPLICATION_ID = 0x52434954
"""``PRAGMA application_id`` of a recistry store (ASCII ``RCIT``), in the SQLite file header."""

MARKER_TABLE = "recistry_store"
"""A table only a recistry store has (created by the identity migration)."""

# Tables every recistry store has had since schema version 1: an older store (written before the
# application id existed) is recognised by all of them being there.
_V1_TABLES = frozenset(
    ("imports", "patients", "studies", "series", "instances", "readers", "acceptances",
     "lesions", "measurements", "axis_endpoints", "clinical")
)  # fmt: skip


class Store:
    """An open study store.

    Parameters
    ----------
    path
        The SQLite file. It is created (with the current schema) when ``create`` is true and the
        file does not exist; an existing store is migrated to the current schema.
    create
        Allow creating a new store. Commands that only read refuse a missing file instead, so a
        typo does not silently yield an empty result.
    readonly
        Only read: the file is opened read-only (also on read-only media: then as immutable),
        no lock is taken beyond SQLite's read snapshot and nothing is migrated.

    Raises
    ------
    StoreError
        The file is not a recistry store (any other SQLite file is refused untouched), is newer
        than this recistry, or cannot be opened.
    """

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        if self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder, not a store file (give --store FILE)")
        exists = self.path.exists()
        if not exists and (readonly or not create):
            raise StoreError(f"{self.path}: no such store; create it with 'recistry import'")
        if exists and not is_store_file(self.path):
            raise StoreError(f"{self.path}: not an SQLite database (is this the right --store?)")
        version = 0
        try:
            if exists:
                # Looked at read-only first, so that a foreign database is never touched.
                version = self._identify()
            if readonly:
                self.conn = self._connect_readonly()
                if version < SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.path}: store schema version {version} is older than this "
                        f"recistry's ({SCHEMA_VERSION}); open it once writable to upgrade it"
                    )
                return
            if not exists:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so nothing is committed
            # behind our back by the sqlite3 module's implicit transactions.
            self.conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            self.conn.execute("PRAGMA foreign_keys = ON")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{self.path}: cannot switch to WAL journal (got {mode!r})")
            # FULL: a committed import survives power loss, not only a killed process.
            self.conn.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open store: {_one_line(exc)}") from None

    def _uri(self, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.path.absolute().as_uri()}?{query}"

    def _connect_readonly(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._uri(mode="ro"),
                uri=True,
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            # A WAL store on read-only media (no -shm can be created): nobody can be writing
            # to it, so it is read as immutable.
            conn = sqlite3.connect(
                self._uri(mode="ro", immutable="1"),
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return conn

    def _identify(self) -> int:
        """The schema version of an existing recistry store; refuse any other SQLite file."""
        conn = self._connect_readonly()
        try:
            application_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {
                name
                for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
        if application_id == APPLICATION_ID and MARKER_TABLE in tables:
            pass
        elif application_id == 0 and version >= 1 and tables >= _V1_TABLES:
            pass  # a store written before the application id existed: migrated when written
        else:
            raise StoreError(
                f"{self.path}: not a recistry store (an SQLite database of something else); "
                "it was not changed. Give --store a new file name or a recistry store"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: store schema version {version} is newer than this recistry "
                f"supports ({SCHEMA_VERSION}); upgrade recistry"
            )
        return version

    def _migrate(self) -> None:
        # Read the version without a lock: a store that is up to date (nearly always) is opened
        # without waiting for another process's write.
        if self._current_version() == SCHEMA_VERSION and self._has_identity():
            return
        with self.transaction():
            version = self._current_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: store schema version {version} is newer than this recistry "
                    f"supports ({SCHEMA_VERSION}); upgrade recistry"
                )
            for number in range(version, SCHEMA_VERSION):
                logger.info("migrating %s to schema version %d", self.path, number + 1)
                for statement in _split_sql(MIGRATIONS[number]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")
            self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")

    def _current_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _has_identity(self) -> bool:
        return bool(self.conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID)

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read of several queries (a deferred read transaction; no write lock)."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN DEFERRED")
        try:
            yield self.conn
        finally:
            self.conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write: commits on success, rolls back on any exception."""
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only; nothing can be written")
        if self.conn.in_transaction:
            # Nested use joins the outer transaction (e.g. a migration inside an import).
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def new_import(self, kind: str, source: str) -> int:
        """Record the start of one write (inside a transaction); returns its ``import_id``."""
        cur = self.conn.execute(
            "INSERT INTO imports (kind, source, author, recorded_at, software) "
            "VALUES (?, ?, ?, ?, ?)",
            (kind, source, _author(), utc_now(), f"recistry {__version__}"),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` result: ``'ok'`` for a sound database file."""
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
