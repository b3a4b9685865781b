#!/usr/bin/env bash
# `make demo`: score the sample data shipped in sample_dicom/ and say where the results are.
# Usage: scripts/demo.sh VENV_BIN OUT_DIR
set -euo pipefail
BIN=${1:-.venv/bin}
OUT=${2:-out/demo}
mkdir -p "$OUT"

echo "== RECIST 1.1 rescore of the sample measurement table (sample_dicom/tables)"
"$BIN/recistry" rescore sample_dicom/tables/measurements.csv \
  --clinical sample_dicom/tables/clinical.csv --out "$OUT/tables"
echo "Per-patient and per-time-point results: $OUT/tables/ (patients.csv, timepoints.csv, results.json)"

echo "== Seed cohort (sample_dicom/cohort: 25 synthetic patients built to Iqbal et al. 2024's aggregates)"
# Stored first, as a trial's readings would be, then reported from the study store.
COHORT_DB="$OUT/cohort.db"
"$BIN/recistry" import sample_dicom/cohort/measurements.csv --store "$COHORT_DB" \
  --reader synthetic --accept
"$BIN/recistry" import --clinical sample_dicom/cohort/clinical.csv --store "$COHORT_DB"
# --require-krenning 3 is the seed's inclusion rule (a lesion of Krenning grade >= 3 on Ga-68
# DOTATATE PET): every patient meets it; the report shows each target's SUVmax over time.
"$BIN/recistry" report "$COHORT_DB" --adverse-events sample_dicom/cohort/adverse_events.csv \
  --by "ileal=primary_site==ileum" --by who_grade --by line_of_therapy --by krenning \
  --require-krenning 3 --out "$OUT/cohort"
echo "Krenning grades and target SUVmax per scan: $OUT/cohort/krenning_uptake.csv, suv_waterfall.png"

echo "== Stored studies: index the demo patient's images, import its DICOM SR readings, rescore the store"
STORE="$OUT/store.db"
rm -f "$STORE" "$STORE-wal" "$STORE-shm"
"$BIN/recistry" index sample_dicom/demo_patient/SYN1-001 --store "$STORE" > /dev/null
"$BIN/recistry" import sample_dicom/demo_patient/sr --store "$STORE" --no-progress
"$BIN/recistry" rescore "$STORE" --out "$OUT/store"
"$BIN/recistry" audit SYN1-001 --store "$STORE" --format html --out "$OUT/audit-SYN1-001.html"
echo "Audit report (every measurement, its image and revisions, behind each call): $OUT/audit-SYN1-001.html"
