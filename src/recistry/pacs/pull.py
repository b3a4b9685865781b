"""Pulling studies from a PACS into a folder tree that ``index``, ``annotate`` and ``rescore``
read, and pushing recistry's outputs (SR, SEG) back.

A pull asks the archive which instances match (QIDO-RS or C-FIND), skips those already on disk
and complete, and retrieves the others series by series (WADO-RS or C-GET/C-MOVE), each file
written atomically (:mod:`recistry.pacs.tree`). Running the same pull again after an
interruption retrieves only what is missing.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset

from recistry.errors import InputError, PacsError
from recistry.pacs.credentials import Credentials, credentials_for
from recistry.pacs.dicomweb import DicomwebConnection
from recistry.pacs.dimse import DimseConnection
from recistry.pacs.location import DimseLocation, PacsLocation
from recistry.pacs.tree import (
    InstanceRef,
    checked_uid,
    instance_path,
    is_complete,
    remove_partials,
    write_atomically,
)

__all__ = ["PullQuery", "PullResult", "PushResult", "connect", "pull", "push"]

logger = logging.getLogger(__name__)

DEFAULT_CALLING_AET = "RECISTRY"

WRITER_THREADS = 4
"""Threads writing and fsyncing retrieved files while the next ones arrive."""


@dataclass(frozen=True, slots=True)
class PullQuery:
    """What to pull: every filter given must match (at least a patient or a study).

    Attributes
    ----------
    patient_id
        PatientID, matched exactly.
    study_uid
        StudyInstanceUID.
    modalities
        Keep only series of these modalities (``("CT", "PT")``); empty keeps all.
    since
        Only studies on or after this date (StudyDate).
    """

    patient_id: str | None = None
    study_uid: str | None = None
    modalities: tuple[str, ...] = ()
    since: dt.date | None = None

    def __post_init__(self) -> None:
        if not self.patient_id and not self.study_uid:
            raise InputError(
                "give --patient or --study: a pull without either would copy the whole archive"
            )


@dataclass(frozen=True, slots=True)
class PullResult:
    """What a pull did.

    Attributes
    ----------
    out
        The tree's root.
    studies, series, instances
        How many the archive matched.
    retrieved
        Instances written by this run.
    already_complete
        Instances that were on disk, complete, and skipped.
    """

    out: Path
    studies: int
    series: int
    instances: int
    retrieved: int
    already_complete: int


@dataclass(frozen=True, slots=True)
class PushResult:
    """Files stored into the archive by :func:`push`."""

    destination: str
    stored: int


def connect(
    location: PacsLocation,
    *,
    credentials: Credentials | None = None,
    ca_bundle: Path | None = None,
    calling_aet: str = DEFAULT_CALLING_AET,
    move_port: int | None = None,
) -> DicomwebConnection | DimseConnection:
    """A connection to ``location``; DICOMweb credentials default to the environment's/netrc's."""
    if isinstance(location, DimseLocation):
        return DimseConnection(location, calling_aet, move_port)
    if credentials is None:
        credentials = credentials_for(location.host)
    if credentials.source != "none":
        logger.info(
            "authenticating to %s with credentials from the %s", location, credentials.source
        )
    return DicomwebConnection(location, credentials, ca_bundle)


class _Sink:
    """Writes received instances into the tree and counts them.

    Writing (and its fsync, milliseconds per file) runs on a few threads while the next
    instances arrive; at most ``WRITES_IN_FLIGHT`` instances wait in memory. Thread-safe:
    C-MOVE stores arrive on the storage SCP's threads.
    """

    WRITES_IN_FLIGHT = 32

    def __init__(
        self,
        out: Path,
        expected: dict[str, InstanceRef],
        on_disk: set[str],
        server: str,
        advance: Callable[[], None],
    ) -> None:
        self.out = out
        self.expected = expected
        self.on_disk = on_disk
        self.server = server
        self.advance = advance
        self.written = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.WRITES_IN_FLIGHT)
        self._pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="pull")
        self._pending: list[Future[None]] = []

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)

    def _target(self, sop: str, dataset: Callable[[], Dataset]) -> Path | None:
        if sop in self.on_disk:
            return None  # streamed with its series but already complete
        ref = self.expected.get(sop)
        if ref is None:  # stored after the query ran: place it by its own UIDs
            ds = dataset()
            ref = InstanceRef(
                str(ds.get("PatientID", "")),
                checked_uid(ds.get("StudyInstanceUID"), "StudyInstanceUID", self.server),
                checked_uid(ds.get("SeriesInstanceUID"), "SeriesInstanceUID", self.server),
                checked_uid(sop, "SOPInstanceUID", self.server),
            )
        return instance_path(self.out, ref)

    def _submit(self, target: Path, write: Callable[[BinaryIO], object]) -> None:
        self._slots.acquire()
        try:
            future = self._pool.submit(write_atomically, target, write)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._written)
        with self._lock:
            self._pending.append(future)

    def _written(self, future: Future[None]) -> None:
        self._slots.release()
        if future.exception() is None:
            with self._lock:
                self.written += 1
            self.advance()

    def save_dataset(self, ds: Dataset) -> None:
        """Write an instance decoded by dicomweb-client (Part-10, its transfer syntax kept)."""
        target = self._target(str(ds.SOPInstanceUID), lambda: ds)
        if target is not None:
            self._submit(target, lambda f: pydicom.dcmwrite(f, ds, enforce_file_format=True))

    def save_encoded(self, sop: str, encoded: bytes, dataset: Callable[[], Dataset]) -> None:
        """Write an instance received over DIMSE, byte for byte."""
        target = self._target(sop, dataset)
        if target is not None:
            self._submit(target, lambda f: f.write(encoded))

    def finish(self) -> None:
        """Wait for every write; raise the first that failed (its file was not written)."""
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            error = future.exception()
            if error is not None:
                raise error


def pull(
    location: PacsLocation,
    query: PullQuery,
    out: Path,
    *,
    credentials: Credentials | None = None,
    ca_bundle: Path | None = None,
    calling_aet: str = DEFAULT_CALLING_AET,
    move_port: int | None = None,
    progress: bool = False,
) -> PullResult:
    """Retrieve the matching instances into ``out/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm``.

    Parameters
    ----------
    location
        A DICOMweb service or a DIMSE archive.
    query
        The filters.
    out
        Root of the tree (created). Files already there and complete are kept and skipped.
    credentials
        DICOMweb only; default: the environment or netrc (:func:`credentials_for`).
    ca_bundle
        DICOMweb over https: the CA certificates to trust instead of the system's.
    calling_aet, move_port
        DIMSE only: our AE title; C-MOVE to this port instead of C-GET.
    progress
        Show a progress bar on stderr.

    Raises
    ------
    PacsError
        The archive cannot be reached, refuses, or matches nothing. What was written stays
        complete; run again to resume.
    """
    from recistry.batch import progress_bar

    connection = connect(
        location,
        credentials=credentials,
        ca_bundle=ca_bundle,
        calling_aet=calling_aet,
        move_port=move_port,
    )
    refs = connection.search(
        patient_id=query.patient_id,
        study_uid=query.study_uid,
        since=query.since.strftime("%Y%m%d") if query.since else None,
        modalities=query.modalities,
    )
    if not refs:
        raise PacsError(f"{location}: no instances match {_describe(query)}")
    stale = remove_partials(out)
    if stale:
        logger.info("removed %d partial file(s) left by an interrupted pull", stale)
    by_series: dict[tuple[str, str], list[InstanceRef]] = defaultdict(list)
    for ref in refs:
        by_series[(ref.study_uid, ref.series_uid)].append(ref)
    on_disk = {r.sop_uid for r in refs if is_complete(instance_path(out, r), r.sop_uid)}
    missing = len(refs) - len(on_disk)
    with progress_bar(progress) as bar:
        task = bar.add_task(f"Pulling from {location}", total=missing)
        expected = {r.sop_uid: r for r in refs}
        with _Sink(out, expected, on_disk, str(location), lambda: bar.advance(task)) as sink:
            _retrieve(connection, by_series.values(), on_disk, sink)
            sink.finish()
    absent = [r for r in refs if not instance_path(out, r).is_file()]
    if absent:
        raise PacsError(
            f"{location} did not send {len(absent)} of {len(refs)} instance(s) "
            f"(first: {absent[0].sop_uid}); run the pull again"
        )
    return PullResult(
        out=out,
        studies=len({r.study_uid for r in refs}),
        series=len(by_series),
        instances=len(refs),
        retrieved=sink.written,
        already_complete=len(on_disk),
    )


def _retrieve(
    connection: DicomwebConnection | DimseConnection,
    series: Iterable[list[InstanceRef]],
    on_disk: set[str],
    sink: _Sink,
) -> None:
    for series_refs in series:
        wanted = [r for r in series_refs if r.sop_uid not in on_disk]
        if not wanted:
            continue
        # Stream the whole series unless most of it is already here.
        whole = len(wanted) * 2 > len(series_refs)
        if isinstance(connection, DimseConnection):
            connection.retrieve(wanted, whole, sink.save_encoded)
        else:
            connection.retrieve(wanted, whole, sink.save_dataset)


def push(
    location: PacsLocation,
    paths: Sequence[Path],
    *,
    credentials: Credentials | None = None,
    ca_bundle: Path | None = None,
    calling_aet: str = DEFAULT_CALLING_AET,
) -> PushResult:
    """Store DICOM files (SR, SEG) into the archive: STOW-RS or C-STORE.

    Raises
    ------
    PacsError
        The archive refused a file (named) or cannot be reached.
    """
    connection = connect(
        location, credentials=credentials, ca_bundle=ca_bundle, calling_aet=calling_aet
    )
    if paths:
        connection.store(paths)
    logger.info("stored %d file(s) in %s", len(paths), location)
    return PushResult(str(location), len(paths))


def _describe(query: PullQuery) -> str:
    parts = [
        f"PatientID {query.patient_id}" if query.patient_id else "",
        f"StudyInstanceUID {query.study_uid}" if query.study_uid else "",
        f"modality {','.join(query.modalities)}" if query.modalities else "",
        f"studies since {query.since.isoformat()}" if query.since else "",
    ]
    return ", ".join(p for p in parts if p)
