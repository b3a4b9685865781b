"""napari plugin of recistry: read CT/PET studies, annotate lesions, see RECIST 1.1 live.

Everything napari- and Qt-specific lives in this package (Qt widgets under ``_qt/``); the
``recistry`` core never imports it. The plugin is registered by the npe2 manifest
``napari.yaml`` under the name ``recistry``: open a study with
``viewer.open(path, plugin="recistry")`` and dock the widget from Plugins › RECIST annotator.
"""

PLUGIN_NAME = "recistry"
"""npe2 plugin name (equal to the distribution name)."""

WIDGET_NAME = "RECIST annotator"
"""display_name of the dock widget in the manifest."""

__all__ = ["PLUGIN_NAME", "WIDGET_NAME"]
