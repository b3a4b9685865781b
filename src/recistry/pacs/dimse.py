"""DIMSE transport (DICOM PS3.4 / PS3.7) for archives without DICOMweb: C-FIND, C-GET, C-MOVE
and C-STORE with pynetdicom, Study Root query/retrieve information model.

C-GET brings the instances back over the same association (the archive must allow C-GET for
our AE title). C-MOVE needs the archive to know our AE title, host and port (its "DICOM
modalities" list) and a port it can reach: :class:`DimseConnection` then listens there as a
storage SCP while the move runs. Instances are kept byte for byte as the archive sent them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, build_role, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    BasicTextSRStorage,
    Comprehensive3DSRStorage,
    ComprehensiveSRStorage,
    CTImageStorage,
    EncapsulatedPDFStorage,
    EnhancedCTImageStorage,
    EnhancedPETImageStorage,
    EnhancedSRStorage,
    GrayscaleSoftcopyPresentationStateStorage,
    KeyObjectSelectionDocumentStorage,
    LegacyConvertedEnhancedCTImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    MRImageStorage,
    PositronEmissionTomographyImageStorage,
    RTStructureSetStorage,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from recistry.errors import PacsError
from recistry.pacs.location import DimseLocation
from recistry.pacs.tree import InstanceRef, SeriesRef, checked_uid

__all__ = ["RETRIEVED_SOP_CLASSES", "DimseConnection", "SaveEncoded"]

logger = logging.getLogger(__name__)

RETRIEVED_SOP_CLASSES = (
    CTImageStorage,
    EnhancedCTImageStorage,
    LegacyConvertedEnhancedCTImageStorage,
    PositronEmissionTomographyImageStorage,
    EnhancedPETImageStorage,
    LegacyConvertedEnhancedPETImageStorage,
    MRImageStorage,
    SecondaryCaptureImageStorage,
    SegmentationStorage,
    BasicTextSRStorage,
    EnhancedSRStorage,
    ComprehensiveSRStorage,
    Comprehensive3DSRStorage,
    KeyObjectSelectionDocumentStorage,
    GrayscaleSoftcopyPresentationStateStorage,
    RTStructureSetStorage,
    EncapsulatedPDFStorage,
)
"""Storage SOP classes a pull accepts (any transfer syntax; PS3.4 annex B)."""

SaveEncoded = Callable[[str, bytes], None]
"""Called per received instance with its SOP Instance UID and its Part-10 bytes as received."""

_PENDING = (0xFF00, 0xFF01)
_TIMEOUT_S = 60.0


class DimseConnection:
    """An association-per-operation client of a DIMSE archive.

    Parameters
    ----------
    location
        Called AE title, host and port of the archive.
    calling_aet
        Our AE title, as the archive knows it.
    move_port
        Retrieve with C-MOVE, receiving on this TCP port (all interfaces); ``None`` uses C-GET.
    """

    def __init__(
        self, location: DimseLocation, calling_aet: str, move_port: int | None = None
    ) -> None:
        self.location = location
        self.calling_aet = calling_aet
        self.move_port = move_port

    def _ae(self) -> AE:
        ae = AE(ae_title=self.calling_aet)
        for timeout in ("acse_timeout", "dimse_timeout", "network_timeout"):
            setattr(ae, timeout, _TIMEOUT_S)
        return ae

    @contextmanager
    def _association(
        self,
        ae: AE,
        doing: str,
        roles: Sequence[Any] = (),
        handlers: Sequence[Any] = (),
    ) -> Iterator[Association]:
        loc = self.location
        try:
            assoc = ae.associate(
                loc.host,
                loc.port,
                ae_title=loc.called_aet,
                ext_neg=list(roles) or None,
                evt_handlers=list(handlers) or None,
            )
        except OSError as exc:
            raise PacsError(f"{loc}: cannot connect while {doing} ({exc})") from None
        if not assoc.is_established:
            why = "rejected" if assoc.is_rejected else "aborted or unreachable"
            raise PacsError(
                f"{loc}: association {why} while {doing}; check the called AE title and "
                f"that the archive knows AE title {self.calling_aet!r}"
            )
        try:
            yield assoc
        finally:
            if assoc.is_established:
                assoc.release()

    def _find(self, keys: Dataset) -> list[Dataset]:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        with self._association(ae, "searching") as assoc:
            return _find(assoc, keys, str(self.location))

    def search_series(
        self,
        *,
        patient_id: str | None,
        study_uid: str | None,
        since: str | None,
        modalities: Sequence[str],
    ) -> list[SeriesRef]:
        """Every series matching the filters, with the archive's count of instances: C-FIND at
        STUDY, then SERIES level."""
        server = str(self.location)
        found: list[SeriesRef] = []
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
        with self._association(ae, "searching") as assoc:
            study_keys = _identifier(
                "STUDY",
                PatientID=patient_id or "",
                StudyInstanceUID=study_uid or "",
                StudyDate=f"{since}-" if since else "",
            )
            for study in _find(assoc, study_keys, server):
                study_found = checked_uid(study.get("StudyInstanceUID"), "StudyInstanceUID", server)
                patient = str(study.get("PatientID", ""))
                series_keys = _identifier(
                    "SERIES",
                    StudyInstanceUID=study_found,
                    SeriesInstanceUID="",
                    Modality="",
                    NumberOfSeriesRelatedInstances="",
                )
                for series in _find(assoc, series_keys, server):
                    if modalities and str(series.get("Modality", "")) not in modalities:
                        continue
                    found.append(SeriesRef.from_answer(series, patient, study_found, server))
        return found

    def search_instances(self, series: SeriesRef) -> list[InstanceRef]:
        """The instances of ``series``: C-FIND at IMAGE level."""
        server = str(self.location)
        keys = _identifier(
            "IMAGE",
            StudyInstanceUID=series.study_uid,
            SeriesInstanceUID=series.series_uid,
            SOPInstanceUID="",
        )
        return [
            InstanceRef(
                series.patient_id,
                series.study_uid,
                series.series_uid,
                checked_uid(image.get("SOPInstanceUID"), "SOPInstanceUID", server),
                series.modality,
            )
            for image in self._find(keys)
        ]

    def retrieve(
        self, series: SeriesRef, instances: Sequence[InstanceRef] | None, save: SaveEncoded
    ) -> None:
        """Retrieve the whole ``series`` in one request (``instances`` is ``None``) or these
        instances one by one, handing each to ``save``."""
        if instances is None:
            requests = [
                _identifier(
                    "SERIES", StudyInstanceUID=series.study_uid, SeriesInstanceUID=series.series_uid
                )
            ]
        else:
            requests = [
                _identifier(
                    "IMAGE",
                    StudyInstanceUID=r.study_uid,
                    SeriesInstanceUID=r.series_uid,
                    SOPInstanceUID=r.sop_uid,
                )
                for r in instances
            ]
        failures: list[BaseException] = []

        def handle_store(event: evt.Event) -> int:
            try:
                request = event.request
                assert isinstance(request, C_STORE)  # EVT_C_STORE carries a C-STORE request
                sop = str(request.AffectedSOPInstanceUID)
                save(sop, event.encoded_dataset())
            except Exception as exc:  # reported to the archive, then raised below
                failures.append(exc)
                return 0xA700  # Out of resources: the archive marks the sub-operation failed
            return 0x0000

        doing = f"retrieving series {series.series_uid}"
        if self.move_port is None:
            self._get(requests, handle_store, doing)
        else:
            self._move(requests, handle_store, doing)
        if failures:
            raise failures[0]

    def _get(
        self, requests: Sequence[Dataset], handle_store: Callable[[evt.Event], int], doing: str
    ) -> None:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelGet)
        for sop_class in RETRIEVED_SOP_CLASSES:
            ae.add_requested_context(sop_class, ALL_TRANSFER_SYNTAXES)
        roles = [build_role(c, scp_role=True) for c in RETRIEVED_SOP_CLASSES]
        handlers = [(evt.EVT_C_STORE, handle_store)]
        with self._association(ae, doing, roles, handlers) as assoc:
            for identifier in requests:
                _check_retrieve(
                    assoc.send_c_get(identifier, StudyRootQueryRetrieveInformationModelGet),
                    str(self.location),
                    doing,
                )

    def _move(
        self, requests: Sequence[Dataset], handle_store: Callable[[evt.Event], int], doing: str
    ) -> None:
        ae = self._ae()
        ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
        for sop_class in RETRIEVED_SOP_CLASSES:
            ae.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)
        assert self.move_port is not None
        try:
            server = ae.start_server(
                ("", self.move_port),
                block=False,
                evt_handlers=[(evt.EVT_C_STORE, handle_store)],
            )
        except OSError as exc:
            raise PacsError(f"cannot listen on port {self.move_port} for C-MOVE ({exc})") from None
        try:
            with self._association(ae, doing) as assoc:
                for identifier in requests:
                    _check_retrieve(
                        assoc.send_c_move(
                            identifier, self.calling_aet, StudyRootQueryRetrieveInformationModelMove
                        ),
                        str(self.location),
                        doing,
                    )
        finally:
            if server is not None:
                server.shutdown()

    def store(self, paths: Sequence[Path]) -> None:
        """C-STORE the files, each in its own transfer syntax, over one association.

        Raises
        ------
        PacsError
            The archive refused a file (named with the DIMSE status) or the association.
        """
        ae = self._ae()
        contexts: dict[str, set[str]] = {}
        for path in paths:
            header = pydicom.dcmread(path, stop_before_pixels=True)
            syntaxes = contexts.setdefault(str(header.SOPClassUID), set())
            syntaxes.update(
                (str(header.file_meta.TransferSyntaxUID), ExplicitVRLittleEndian)
                if "TransferSyntaxUID" in header.file_meta
                else (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
            )
        for sop_class, syntaxes in contexts.items():
            ae.add_requested_context(sop_class, sorted(syntaxes))
        with self._association(ae, f"storing {len(paths)} file(s)") as assoc:
            for path in paths:
                try:
                    status = assoc.send_c_store(path)
                except ValueError as exc:  # no accepted presentation context for this file
                    raise PacsError(f"{self.location} cannot store {path} ({exc})") from None
                code = int(getattr(status, "Status", -1))
                if code not in (0x0000, 0xB000, 0xB007, 0xB006):
                    raise PacsError(
                        f"{self.location} refused {path} (C-STORE status 0x{code & 0xFFFF:04X})"
                    )


def _identifier(level: str, **keys: str) -> Dataset:
    ds = Dataset()
    ds.QueryRetrieveLevel = level
    for keyword, value in keys.items():
        setattr(ds, keyword, value)
    return ds


def _find(assoc: Association, identifier: Dataset, server: str) -> list[Dataset]:
    """The identifiers a C-FIND answers, or a PacsError with its failure status (or saying
    that the archive dropped the association, as Orthanc does for an AE title not allowed)."""
    answers = []
    for status, answer in assoc.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
        code = int(getattr(status, "Status", -1))
        if code in _PENDING and answer is not None:
            answers.append(answer)
        elif code != 0x0000:
            level = identifier.QueryRetrieveLevel
            calling = assoc.requestor.ae_title
            why = (
                "the archive ended the association"
                if code == -1
                else f"status 0x{code & 0xFFFF:04X}"
            )
            raise PacsError(
                f"{server}: C-FIND at {level} level failed ({why}); check that the archive "
                f"knows our AE title {calling!r} and allows it C-FIND"
            )
    return answers


def _check_retrieve(
    responses: Iterator[tuple[Dataset, Dataset | None]], server: str, doing: str
) -> None:
    """Consume C-GET/C-MOVE responses; PacsError unless every sub-operation succeeded."""
    final = -1
    failed = 0
    for status, _ in responses:
        final = int(getattr(status, "Status", -1))
        failed = int(getattr(status, "NumberOfFailedSuboperations", 0) or 0)
    if final != 0x0000 or failed:
        raise PacsError(
            f"{server}: {doing} failed (status 0x{final & 0xFFFF:04X}, {failed} failed "
            "sub-operation(s)); check that the archive allows our AE title C-GET/C-MOVE and "
            "that the series is CT, PET, MR, SEG, SR or secondary capture"
        )
