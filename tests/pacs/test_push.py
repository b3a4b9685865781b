"""``recistry export --to``: the SR (and SEG) files go into the PACS, next to the images they
measure, where a viewer querying the study (OHIF: QIDO-RS series of the study) finds them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient

from recistry.cli import main
from recistry.sr import write_seg
from tests.pacs._orthanc import Orthanc
from tests.pacs.conftest import SAMPLE, USER

SR_MODALITY = "SR"


@pytest.fixture(scope="module")
def store(pulled: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The pulled tree indexed and the sample readings imported: what export writes from."""
    db = tmp_path_factory.mktemp("store") / "s.db"
    assert main(["index", str(pulled), "--store", str(db)]) == 0
    assert main(["import", str(SAMPLE / "measurements.csv"), "--store", str(db)]) == 0
    return db


def _client(orthanc: Orthanc) -> DICOMwebClient:
    """An independent reader of the archive (plain dicomweb-client, not recistry's code)."""
    session = requests.Session()
    session.auth = (USER, orthanc.users[USER])
    return DICOMwebClient(orthanc.dicomweb_url, session=session)


def _orthanc_ids(orthanc: Orthanc, sop_uid: str) -> list[str]:
    found = orthanc.rest("POST", "/tools/lookup", data=sop_uid).json()
    return [item["ID"] for item in found if item["Type"] == "Instance"]


def _segmentation(ct_series: Path, folder: Path) -> Path:
    """A DICOM SEG (recistry.sr.write_seg, over highdicom) of a box on a pulled CT series."""
    sources = [pydicom.dcmread(p) for p in ct_series.glob("*.dcm")]
    sources.sort(key=lambda s: float(s.ImagePositionPatient[2]))
    mask = np.zeros((len(sources), sources[0].Rows, sources[0].Columns), dtype=bool)
    mask[10:14, 100:130, 100:130] = True
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "L1.seg.dcm"
    write_seg({"L1": mask}, sources, path)
    return path


@pytest.fixture(scope="module")
def store_with_seg(pulled: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sample readings with the baseline liver lesion's mask as an indexed DICOM SEG that
    its measurement references (``segmentation_uid``): the SEG travels with the SR."""
    folder = tmp_path_factory.mktemp("store_with_seg")
    table = pd.read_csv(SAMPLE / "measurements.csv", dtype=str, keep_default_na=False)
    row = table.index[(table["lesion_id"] == "L1") & (table["date"] == table["date"].min())][0]
    (ct_file,) = pulled.glob(f"*/*/*/{table.at[row, 'sop_instance_uid']}.dcm")
    seg = _segmentation(ct_file.parent, folder / "seg")
    table["segmentation_uid"] = ""
    table.at[row, "segmentation_uid"] = str(pydicom.dcmread(seg).SOPInstanceUID)
    table.to_csv(folder / "measurements.csv", index=False)
    db = folder / "s.db"
    assert main(["index", str(pulled), "--store", str(db)]) == 0
    assert main(["index", str(seg.parent), "--store", str(db)]) == 0
    assert main(["import", str(folder / "measurements.csv"), "--store", str(db)]) == 0
    return db, seg


def test_export_to_dicomweb_stores_the_srs_and_segs_with_their_study(
    orthanc: Orthanc, login: str, store_with_seg: tuple[Path, Path], tmp_path: Path, capsys
) -> None:
    store, seg = store_with_seg
    out = tmp_path / "export"
    assert main(["export", str(out), "--store", str(store), "--to", orthanc.dicomweb_url]) == 0
    printed = capsys.readouterr().out
    assert "wrote 3 SR files" in printed and f"stored 4 files in {orthanc.dicomweb_url}" in printed
    client = _client(orthanc)
    for path in [*out.rglob("*.dcm"), seg]:
        local = pydicom.dcmread(path)
        # As OHIF finds them: the study's series by QIDO-RS, then the instance by WADO-RS.
        series = client.search_for_series(
            local.StudyInstanceUID, search_filters={"Modality": local.Modality}
        )
        assert local.SeriesInstanceUID in {s["0020000E"]["Value"][0] for s in series}
        stored = client.retrieve_instance(
            local.StudyInstanceUID,
            local.SeriesInstanceUID,
            local.SOPInstanceUID,
            media_types=(("application/dicom", "*"),),
        )
        assert stored == local
        if local.Modality == SR_MODALITY:  # it measures images that are in the same archive
            evidence = local.CurrentRequestedProcedureEvidenceSequence[0]
            image = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
            assert _orthanc_ids(orthanc, image.ReferencedSOPInstanceUID)
    assert pydicom.dcmread(seg).Modality == "SEG"


def test_export_to_dimse_stores_the_srs_with_c_store(
    orthanc: Orthanc, store: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "export"
    assert main(["export", str(out), "--store", str(store)]) == 0
    written = sorted(out.rglob("*.dcm"))
    assert len(written) == 3
    for path in written:  # start from an archive without these reports
        for orthanc_id in _orthanc_ids(orthanc, pydicom.dcmread(path).SOPInstanceUID):
            orthanc.rest("DELETE", f"/instances/{orthanc_id}")
    capsys.readouterr()
    assert main(["export", str(out), "--store", str(store), "--to", orthanc.dimse_url]) == 0
    assert f"stored 3 files in {orthanc.dimse_url}" in capsys.readouterr().out
    for path in written:
        local = pydicom.dcmread(path)
        (orthanc_id,) = _orthanc_ids(orthanc, local.SOPInstanceUID)
        stored = orthanc.rest("GET", f"/instances/{orthanc_id}/file").content
        assert pydicom.dcmread(pydicom.filebase.DicomBytesIO(stored)) == local


def test_export_to_a_bad_url_is_one_line_exit_2_and_writes_nothing(
    store: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "export"
    assert main(["export", str(out), "--store", str(store), "--to", "dimse://PACS@host"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "dimse://AET@HOST:PORT" in err
    assert not out.exists()
    # Pseudonymised reports would sit under another patient next to the original images.
    args = ["export", str(out), "--store", str(store), "--pseudonymize", "--to", "dimse://P@h:1"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "option --to" in err and "pseudonymi" in err
    assert not out.exists()
