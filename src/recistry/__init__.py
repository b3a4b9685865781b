"""recistry: imaging-measurement response assessor (RECIST 1.1).

Loads DICOM CT and Ga-68 DOTATATE PET, scores tumour measurements with a complete RECIST 1.1
engine and rolls per-patient responses up into cohort ORR, DCR and Kaplan-Meier PFS/OS.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
