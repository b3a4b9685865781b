"""DICOMweb transport (DICOM PS3.18): QIDO-RS search, WADO-RS retrieve, STOW-RS store.

Built on dicomweb-client over a ``requests`` session that verifies TLS certificates (the
system's CA store, or a bundle given with ``ca_bundle``) and authenticates from
:class:`~recistry.pacs.credentials.Credentials`. Instances are retrieved in the transfer
syntax the archive stored them in (``transfer-syntax=*``), so nothing is transcoded or lost.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydicom
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.dataset import Dataset

from recistry.errors import PacsError
from recistry.pacs.credentials import Credentials
from recistry.pacs.location import DicomwebLocation
from recistry.pacs.tree import InstanceRef, SeriesRef, checked_uid

__all__ = ["AS_STORED", "DicomwebConnection"]

logger = logging.getLogger(__name__)

AS_STORED = (("application/dicom", "*"),)
"""WADO-RS media type asking for the instances in the transfer syntax the archive holds."""

TIMEOUT_S = (15.0, 300.0)
"""Connect and read timeouts of every request (seconds)."""

RETRY_ATTEMPTS = 3
"""Attempts per request when the server is busy or the connection fails."""


class _BearerToken(requests.auth.AuthBase):
    """``Authorization: Bearer`` added by requests itself, so no client log shows it."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class DicomwebConnection:
    """A DICOMweb service with its HTTP session (credentials, TLS verification).

    Parameters
    ----------
    location
        The service's base URL.
    credentials
        Sent with every request (Basic or Bearer).
    ca_bundle
        PEM file of the certificate authorities to trust for https; ``None`` uses the system's
        (or ``REQUESTS_CA_BUNDLE``). Verification is never switched off.
    """

    def __init__(
        self,
        location: DicomwebLocation,
        credentials: Credentials | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        credentials = credentials or Credentials()
        if ca_bundle is not None and not ca_bundle.is_file():
            raise PacsError(f"CA bundle {ca_bundle} does not exist")
        loopback = location.host in ("localhost", "127.0.0.1", "::1")
        if credentials.source != "none" and location.url.startswith("http://") and not loopback:
            logger.warning(
                "sending %s credentials to %s over unencrypted http", credentials.source, location
            )
        self.location = location
        self._credentials = credentials
        self._ca_bundle = ca_bundle
        self._per_thread = threading.local()

    @property
    def client(self) -> DICOMwebClient:
        """This thread's client (a requests session is not shared between threads)."""
        client: DICOMwebClient | None = getattr(self._per_thread, "client", None)
        if client is None:
            session = requests.Session()
            if self._ca_bundle is not None:
                session.verify = os.fspath(self._ca_bundle)
            if self._credentials.token:
                session.auth = _BearerToken(self._credentials.token)
            elif self._credentials.username is not None:
                session.auth = (self._credentials.username, self._credentials.password or "")
            client = DICOMwebClient(self.location.url, session=session, timeout=TIMEOUT_S)
            # Retry a busy server (429, 408, 503, 504) or a dropped connection twice, after 1
            # and 2 s, rather than dicomweb-client's default of 5 attempts over about 30 s.
            client.set_http_retry_params(
                max_attempts=RETRY_ATTEMPTS, wait_exponential_multiplier=500
            )
            self._per_thread.client = client
        return client

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn transport failures into one-line PacsErrors naming the server."""
        try:
            yield
        except requests.exceptions.SSLError as exc:
            reason = _reason(exc)
            raise PacsError(
                f"{self.location}: TLS certificate not verified while {doing} ({reason}); "
                "give the server's CA with --ca-bundle or RECISTRY_PACS_CA_BUNDLE"
            ) from None
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            hint = ""
            if status in (401, 403):
                hint = (
                    "; check RECISTRY_PACS_USER/RECISTRY_PACS_PASSWORD, RECISTRY_PACS_TOKEN "
                    "or the netrc entry"
                )
            raise PacsError(f"{self.location}: HTTP {status} while {doing}{hint}") from None
        except requests.exceptions.RequestException as exc:
            raise PacsError(f"{self.location}: {doing} failed ({_reason(exc)})") from None
        except ValueError as exc:  # malformed DICOM JSON or multipart message
            raise PacsError(f"{self.location}: unusable answer while {doing} ({exc})") from None

    def search_series(
        self,
        *,
        patient_id: str | None,
        study_uid: str | None,
        since: str | None,
        modalities: Sequence[str],
    ) -> list[SeriesRef]:
        """Every series matching the filters (QIDO-RS studies, then their series), with the
        archive's count of instances.

        ``since`` is a DICOM date (YYYYMMDD) matched as the range ``since-``; ``modalities``
        keeps only series of those modalities (all when empty).
        """
        server = str(self.location)
        filters: dict[str, Any] = {}
        if patient_id:
            filters["PatientID"] = patient_id
        if study_uid:
            filters["StudyInstanceUID"] = study_uid
        if since:
            filters["StudyDate"] = f"{since}-"
        found: list[SeriesRef] = []
        with self._errors("searching for studies"):
            studies = self.client.search_for_studies(search_filters=filters, get_remaining=True)
        for study_json in studies:
            study = Dataset.from_json(study_json)
            study_uid_found = checked_uid(study.get("StudyInstanceUID"), "StudyInstanceUID", server)
            patient = str(study.get("PatientID", ""))
            with self._errors(f"searching the series of study {study_uid_found}"):
                series_list = self.client.search_for_series(
                    study_uid_found,
                    fields=["Modality", "NumberOfSeriesRelatedInstances"],
                    get_remaining=True,
                )
            for series_json in series_list:
                series = Dataset.from_json(series_json)
                if modalities and str(series.get("Modality", "")) not in modalities:
                    continue
                found.append(SeriesRef.from_answer(series, patient, study_uid_found, server))
        return found

    def search_instances(self, series: SeriesRef) -> list[InstanceRef]:
        """The instances of ``series`` (QIDO-RS)."""
        server = str(self.location)
        with self._errors(f"searching the instances of series {series.series_uid}"):
            answers = self.client.search_for_instances(
                series.study_uid, series.series_uid, get_remaining=True
            )
        return [
            InstanceRef(
                series.patient_id,
                series.study_uid,
                series.series_uid,
                checked_uid(
                    Dataset.from_json(answer).get("SOPInstanceUID"), "SOPInstanceUID", server
                ),
                series.modality,
            )
            for answer in answers
        ]

    def retrieve(
        self,
        series: SeriesRef,
        instances: Sequence[InstanceRef] | None,
        save: Callable[[Dataset], None],
    ) -> None:
        """Retrieve the whole ``series`` in one streamed WADO-RS request (``instances`` is
        ``None``) or these instances one by one, handing each to ``save``."""
        with self._errors(f"retrieving series {series.series_uid}"):
            if instances is None:
                for ds in self.client.iter_series(
                    series.study_uid, series.series_uid, media_types=AS_STORED
                ):
                    save(ds)
                return
            for ref in instances:
                save(
                    self.client.retrieve_instance(
                        ref.study_uid, ref.series_uid, ref.sop_uid, media_types=AS_STORED
                    )
                )

    def store(self, paths: Sequence[Path]) -> None:
        """Store the files with one STOW-RS request per study.

        Raises
        ------
        PacsError
            The server refused an instance (its FailedSOPSequence names it) or the request.
        """
        by_study: dict[str, list[Dataset]] = {}
        files: dict[str, Path] = {}
        for path in paths:
            ds = pydicom.dcmread(path)
            by_study.setdefault(str(ds.StudyInstanceUID), []).append(ds)
            files[str(ds.SOPInstanceUID)] = path
        for study_uid, datasets in by_study.items():
            with self._errors(f"storing {len(datasets)} instance(s) of study {study_uid}"):
                answer = self.client.store_instances(datasets, study_instance_uid=study_uid)
            for failed in answer.get("FailedSOPSequence", []):
                uid = str(failed.get("ReferencedSOPInstanceUID", ""))
                reason = failed.get("FailureReason", "?")
                where = files.get(uid, uid)
                raise PacsError(f"{self.location} refused {where} (failure reason {reason})")


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests error, in one line."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
