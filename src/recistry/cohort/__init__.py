"""Cohort statistics, figures, tables and the HTML report built on RECIST assessments.

* :mod:`recistry.cohort.stats` — exact (Clopper–Pearson) proportions for ORR and DCR.
* :mod:`recistry.cohort.survival` — Kaplan–Meier with R-compatible medians and intervals.
* :mod:`recistry.cohort.summary` — the cohort roll-up: counts, ORR/DCR, PFS/OS, subgroups.

The statistics are pure (values in, values out); figures and the report sit on top of them.
"""
