"""The coronal PET MIP panel: the whole body at a glance; a click jumps the views there."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from qtpy.QtCore import QPoint, Qt
from qtpy.QtGui import QImage, QMouseEvent, QPixmap
from qtpy.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from recistry.imaging.volume import Volume
from recistry_napari._mip import CoronalMip, coronal_mip


class _ClickableLabel(QLabel):
    def __init__(self, on_click: Callable[[QPoint], None]) -> None:
        super().__init__()
        self._on_click = on_click

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is not None and event.button() == Qt.MouseButton.LeftButton:
            self._on_click(event.position().toPoint())


class MipPanel(QWidget):
    """A coronal MIP of the current PET (inverted grey, 0 to ``suv_max`` SUV).

    ``on_hot_spot`` receives the LPS mm of the voxel under a click (its depth is where the
    maximum along the ray is), for the axial views to jump to.
    """

    def __init__(
        self,
        on_hot_spot: Callable[[tuple[float, float, float]], None],
        suv_max: float = 15.0,
        height: int = 300,
        max_width: int = 240,
    ) -> None:
        super().__init__()
        self._on_hot_spot = on_hot_spot
        self.suv_max = suv_max
        self._height = height
        self._max_width = max_width
        self.setMaximumWidth(max_width + 8)
        self.mip: CoronalMip | None = None
        self._volume: Volume | None = None
        self.label = _ClickableLabel(self._clicked)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.label.setToolTip("coronal PET MIP: click a hot spot to go there")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.label)
        layout.addStretch(1)

    def show_volume(self, pet: Volume, mip: CoronalMip | None = None) -> None:
        """Show the MIP of ``pet`` (recomputed only for a new volume, and not when ``mip`` is
        its MIP already computed)."""
        if pet is self._volume:
            return
        self._volume = pet
        self.mip = mip if mip is not None and mip.volume is pet else coronal_mip(pet)
        image = self.mip.image
        grey = 255 - np.clip(image / self.suv_max * 255.0, 0, 255).astype(np.uint8)
        grey = np.ascontiguousarray(grey)
        rows, columns = grey.shape
        qimage = QImage(
            grey.tobytes(), columns, rows, columns, QImage.Format.Format_Grayscale8
        ).copy()
        height = self._height
        width = max(1, round(height * columns / (rows * self.mip.aspect())))
        if width > self._max_width:
            height = max(1, round(height * self._max_width / width))
            width = self._max_width
        self.label.setPixmap(
            QPixmap.fromImage(qimage).scaled(
                width,
                height,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
        self.label.setFixedSize(width, height)

    def pixel_at(self, point: QPoint) -> tuple[int, int] | None:
        """MIP (row, column) under a point of the label, ``None`` outside."""
        if self.mip is None:
            return None
        rows, columns = self.mip.image.shape
        row = int(point.y() * rows / max(1, self.label.height()))
        column = int(point.x() * columns / max(1, self.label.width()))
        if 0 <= row < rows and 0 <= column < columns:
            return row, column
        return None

    def _clicked(self, point: QPoint) -> None:
        found = self.pixel_at(point)
        if found is not None and self.mip is not None:
            self._on_hot_spot(self.mip.hot_spot_lps(*found))
