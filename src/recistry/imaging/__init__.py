"""DICOM CT and PET: series discovery, volumes in patient millimetres (LPS), SUV, lesion metrics."""

from recistry.imaging.volume import Volume

__all__ = ["Volume"]
