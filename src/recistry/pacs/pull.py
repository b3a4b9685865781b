"""Pulling studies from a PACS into a folder tree that ``index``, ``annotate`` and ``rescore``
read, and pushing recistry's outputs (SR, SEG) back.

A pull asks the archive which series match and how many instances each holds (QIDO-RS or
C-FIND), skips the instances already on disk and whole, and retrieves the others series by series
(WADO-RS or C-GET/C-MOVE), each file written atomically (:mod:`recistry.pacs.tree`). Running the
same pull again after an interruption retrieves only what is missing.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Sequence
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
    SeriesRef,
    checked_uid,
    is_complete,
    remove_partials,
    series_folder,
    write_atomically,
)

__all__ = ["PullQuery", "PullResult", "PushResult", "connect", "pull", "push"]

logger = logging.getLogger(__name__)

DEFAULT_CALLING_AET = "RECISTRY"

WRITER_THREADS = 4
"""Threads writing and fsyncing retrieved files while the next ones arrive."""

SERIES_IN_PARALLEL = 2
"""DICOMweb series retrieved at the same time (one HTTP connection each)."""


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
    C-MOVE stores arrive on the storage SCP's threads, DICOMweb series on several threads.
    """

    WRITES_IN_FLIGHT = 32

    def __init__(
        self, out: Path, on_disk: set[str], server: str, advance: Callable[[], None]
    ) -> None:
        self.out = out
        self.on_disk = on_disk
        self.server = server
        self.advance = advance
        self.written = 0
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.WRITES_IN_FLIGHT)
        self._pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="pull")
        self._pending: list[Future[None]] = []
        self._cancelled = threading.Event()

    def __enter__(self) -> _Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=True)

    def cancel(self) -> None:
        """Make every later save raise, so retrievals still running stop."""
        self._cancelled.set()

    def _target(self, series: SeriesRef, sop: object) -> Path | None:
        if self._cancelled.is_set():
            raise PacsError("pull cancelled")
        uid = checked_uid(sop, "SOPInstanceUID", self.server)
        if uid in self.on_disk:
            return None  # streamed with its series but already complete
        return series_folder(self.out, series) / f"{uid}.dcm"

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

    def save_dataset(self, series: SeriesRef, ds: Dataset) -> None:
        """Write an instance of ``series`` decoded by dicomweb-client (Part-10, its transfer
        syntax kept)."""
        if str(ds.get("SeriesInstanceUID", "")) != series.series_uid:
            raise PacsError(
                f"{self.server} sent instance {ds.get('SOPInstanceUID')} of series "
                f"{ds.get('SeriesInstanceUID')} when asked for series {series.series_uid}"
            )
        target = self._target(series, ds.get("SOPInstanceUID"))
        if target is not None:
            self._submit(target, lambda f: pydicom.dcmwrite(f, ds, enforce_file_format=True))

    def save_encoded(self, series: SeriesRef, sop: str, encoded: bytes) -> None:
        """Write an instance of ``series`` received over DIMSE, byte for byte."""
        target = self._target(series, sop)
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


@dataclass(frozen=True, slots=True)
class _SeriesPlan:
    """What to fetch of one series: everything (``instances`` is None) or these instances;
    ``expected`` SOP Instance UIDs when the archive listed them, else only their number."""

    series: SeriesRef
    instances: tuple[InstanceRef, ...] | None
    expected: frozenset[str] | None
    count: int
    missing: int


def _local_instances(out: Path, series: SeriesRef) -> set[str]:
    """SOP Instance UIDs of the whole files already in ``series``' folder."""
    folder = series_folder(out, series)
    if not folder.is_dir():
        return set()
    return {
        p.stem
        for p in folder.glob("*.dcm")
        if not p.name.startswith(".") and is_complete(p, p.stem)
    }


def _plan(
    connection: DicomwebConnection | DimseConnection,
    series: SeriesRef,
    on_disk: set[str],
) -> _SeriesPlan:
    """Decide what to fetch of ``series``, given the whole files already on disk.

    The instances are listed (an instance-level query, which costs many archives as much as
    the retrieve itself) only when some are on disk but not as many as the archive counts.
    """
    count = series.instance_count
    if count is not None and len(on_disk) >= count:
        return _SeriesPlan(series, (), None, count, 0)
    if count is not None and not on_disk:
        return _SeriesPlan(series, None, None, count, count)
    listed = connection.search_instances(series)
    wanted = tuple(r for r in listed if r.sop_uid not in on_disk)
    # Stream the whole series unless most of it is already here.
    instances = None if len(wanted) * 2 > len(listed) else wanted
    expected = frozenset(r.sop_uid for r in listed)
    return _SeriesPlan(series, instances, expected, len(listed), len(wanted))


def _retrieve(
    connection: DicomwebConnection | DimseConnection, plans: Sequence[_SeriesPlan], sink: _Sink
) -> None:
    """Retrieve what is missing of each series; over DICOMweb ``SERIES_IN_PARALLEL`` series at
    a time (an archive serves several requests at once), over DIMSE one association at a time."""
    work = [p for p in plans if p.missing]
    if isinstance(connection, DimseConnection):
        for plan in work:
            connection.retrieve(
                plan.series, plan.instances, functools.partial(sink.save_encoded, plan.series)
            )
        return
    pool = ThreadPoolExecutor(max_workers=SERIES_IN_PARALLEL, thread_name_prefix="wado")
    try:
        futures = [
            pool.submit(
                connection.retrieve,
                plan.series,
                plan.instances,
                functools.partial(sink.save_dataset, plan.series),
            )
            for plan in work
        ]
        for future in futures:
            future.result()
    except BaseException:  # Ctrl-C or a failed series: stop the others at their next instance
        sink.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


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
        Root of the tree (created). Files already there and complete are kept and skipped; a
        series whose folder holds as many whole instances as the archive counts is complete.
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
        The archive cannot be reached, refuses, matches nothing or did not send every instance.
        What was written stays complete; run again to resume.
    """
    from recistry.batch import progress_bar

    connection = connect(
        location,
        credentials=credentials,
        ca_bundle=ca_bundle,
        calling_aet=calling_aet,
        move_port=move_port,
    )
    found = connection.search_series(
        patient_id=query.patient_id,
        study_uid=query.study_uid,
        since=query.since.strftime("%Y%m%d") if query.since else None,
        modalities=query.modalities,
    )
    if not found:
        raise PacsError(f"{location}: no series match {_describe(query)}")
    stale = remove_partials(out)
    if stale:
        logger.info("removed %d partial file(s) left by an interrupted pull", stale)
    on_disk = {s.series_uid: _local_instances(out, s) for s in found}
    plans = [_plan(connection, s, on_disk[s.series_uid]) for s in found]
    skip = set().union(*on_disk.values())
    with progress_bar(progress) as bar:
        task = bar.add_task(f"Pulling from {location}", total=sum(p.missing for p in plans))
        with _Sink(out, skip, str(location), lambda: bar.advance(task)) as sink:
            _retrieve(connection, plans, sink)
            sink.finish()
    for plan in plans:
        _check_received(out, plan, str(location))
    total = sum(p.count for p in plans)
    return PullResult(
        out=out,
        studies=len({s.study_uid for s in found}),
        series=len(found),
        instances=total,
        retrieved=sink.written,
        already_complete=total - sum(p.missing for p in plans),
    )


def _check_received(out: Path, plan: _SeriesPlan, server: str) -> None:
    """PacsError unless the series' folder now holds every instance the archive listed (or
    counted)."""
    folder = series_folder(out, plan.series)
    present = {p.stem for p in folder.glob("*.dcm")} if folder.is_dir() else set()
    absent = (
        len(plan.expected - present) if plan.expected is not None else plan.count - len(present)
    )
    if absent > 0:
        raise PacsError(
            f"{server} did not send {absent} of {plan.count} instance(s) of series "
            f"{plan.series.series_uid}; run the pull again"
        )


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
