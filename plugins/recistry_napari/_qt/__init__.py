"""Qt widgets of the recistry napari plugin (the only place Qt is imported)."""
