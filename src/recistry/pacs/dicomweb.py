"""DICOMweb transport (DICOM PS3.18): QIDO-RS search, WADO-RS retrieve, STOW-RS store.

Built on dicomweb-client over a ``requests`` session that verifies TLS certificates (the
system's CA store, or a bundle given with ``ca_bundle``) and authenticates from
:class:`~recistry.pacs.credentials.Credentials`. Instances are retrieved in the transfer
syntax the archive stored them in (``transfer-syntax=*``), so nothing is transcoded or lost.
"""

from __future__ import annotations

import logging
import os
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
from recistry.pacs.tree import InstanceRef, checked_uid

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
        session = requests.Session()
        if ca_bundle is not None:
            if not ca_bundle.is_file():
                raise PacsError(f"CA bundle {ca_bundle} does not exist")
            session.verify = os.fspath(ca_bundle)
        if credentials.token:
            session.auth = _BearerToken(credentials.token)
        elif credentials.username is not None:
            session.auth = (credentials.username, credentials.password or "")
        loopback = location.host in ("localhost", "127.0.0.1", "::1")
        if credentials.source != "none" and location.url.startswith("http://") and not loopback:
            logger.warning(
                "sending %s credentials to %s over unencrypted http", credentials.source, location
            )
        self.location = location
        self.client = DICOMwebClient(location.url, session=session, timeout=TIMEOUT_S)
        # Retry a busy server (429, 408, 503, 504) or a dropped connection twice, after 1 and
        # 2 s, rather than dicomweb-client's default of 5 attempts over about 30 s.
        self.client.set_http_retry_params(
            max_attempts=RETRY_ATTEMPTS, wait_exponential_multiplier=500
        )

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

    def search(
        self,
        *,
        patient_id: str | None,
        study_uid: str | None,
        since: str | None,
        modalities: Sequence[str],
    ) -> list[InstanceRef]:
        """Every instance matching the filters (QIDO-RS studies, then series, then instances).

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
        found: list[InstanceRef] = []
        with self._errors("searching for studies"):
            studies = self.client.search_for_studies(search_filters=filters, get_remaining=True)
        for study_json in studies:
            study = Dataset.from_json(study_json)
            study_uid_found = checked_uid(study.get("StudyInstanceUID"), "StudyInstanceUID", server)
            patient = str(study.get("PatientID", ""))
            with self._errors(f"searching the series of study {study_uid_found}"):
                series_list = self.client.search_for_series(
                    study_uid_found, fields=["Modality"], get_remaining=True
                )
            for series_json in series_list:
                series = Dataset.from_json(series_json)
                modality = str(series.get("Modality", ""))
                if modalities and modality not in modalities:
                    continue
                series_uid = checked_uid(
                    series.get("SeriesInstanceUID"), "SeriesInstanceUID", server
                )
                with self._errors(f"searching the instances of series {series_uid}"):
                    instances = self.client.search_for_instances(
                        study_uid_found, series_uid, get_remaining=True
                    )
                for instance_json in instances:
                    sop = Dataset.from_json(instance_json).get("SOPInstanceUID")
                    found.append(
                        InstanceRef(
                            patient,
                            study_uid_found,
                            series_uid,
                            checked_uid(sop, "SOPInstanceUID", server),
                            modality,
                        )
                    )
        return found

    def retrieve(
        self, refs: Sequence[InstanceRef], whole_series: bool, save: Callable[[Dataset], None]
    ) -> None:
        """Retrieve ``refs`` (all of one series) and hand each instance to ``save``.

        With ``whole_series`` the series is streamed in one WADO-RS request (``save`` may then
        receive instances that are not in ``refs``); otherwise instance by instance.
        """
        first = refs[0]
        with self._errors(f"retrieving series {first.series_uid}"):
            if whole_series:
                for ds in self.client.iter_series(
                    first.study_uid, first.series_uid, media_types=AS_STORED
                ):
                    save(ds)
                return
            for ref in refs:
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
