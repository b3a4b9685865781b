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

echo "== Independent reads: a second reader read the same 25 patients; compare, adjudicate (docs/readers.md)"
READS_DB="$OUT/reads.db"
rm -f "$READS_DB" "$READS_DB-wal" "$READS_DB-shm"
"$BIN/recistry" import sample_dicom/cohort/measurements.csv --store "$READS_DB" --reader reader_a > /dev/null
"$BIN/recistry" import sample_dicom/cohort/measurements_reader_b.csv --store "$READS_DB" \
  --reader reader_b > /dev/null
"$BIN/recistry" import --clinical sample_dicom/cohort/clinical.csv --store "$READS_DB" > /dev/null
"$BIN/recistry" readers "$READS_DB" --format html --out "$OUT/readers.html"
"$BIN/recistry" readers "$READS_DB" --format json --out "$OUT/readers.json" 2> /dev/null
"$BIN/python" - "$OUT/readers.json" <<'PY'
import json, sys
document = json.load(open(sys.argv[1]))
need, pair = document["adjudication"], document["agreement"][0]
kappa, pd = pair["best_response_kappa"], pair["progression"]
print(f"needing adjudication: {need['needing']} of {need['of_patients_with_two_reads']} ({', '.join(need['pending'])}); "
      f"kappa of best response {kappa['kappa']:.2f} (95% CI {kappa['ci95'][0]:.2f}-"
      f"{kappa['ci95'][1]:.2f}); early/late PD discrepancy {pd['early_discrepancy_rate']:.1%}/"
      f"{pd['late_discrepancy_rate']:.1%}; ICC(2,1) of baseline sums "
      f"{pair['baseline_sum_mm']['icc_2_1']:.3f}")
PY
"$BIN/recistry" import --accept-reader reader_a --store "$READS_DB" > /dev/null
for PATIENT in P03 P11 P20; do
  "$BIN/recistry" adjudicate "$READS_DB" --patient "$PATIENT" --accept reader_a \
    --reason "demo: reader A's read confirmed on consensus review" --adjudicator adjudicator_c
done
"$BIN/recistry" report "$READS_DB" --out "$OUT/reads-report" | grep -E "^(ORR|adjudicated|reader agreement)"
echo "Reader agreement: $OUT/readers.html and the report's Reader agreement section ($OUT/reads-report/report.html)"

echo "== Stored studies: index the demo patient's images, import its DICOM SR readings, rescore the store"
STORE="$OUT/store.db"
rm -f "$STORE" "$STORE-wal" "$STORE-shm"
"$BIN/recistry" index sample_dicom/demo_patient/SYN1-001 --store "$STORE" > /dev/null
"$BIN/recistry" import sample_dicom/demo_patient/sr --store "$STORE" --no-progress
"$BIN/recistry" rescore "$STORE" --out "$OUT/store"
"$BIN/recistry" audit SYN1-001 --store "$STORE" --format html --out "$OUT/audit-SYN1-001.html"
echo "Audit report (every measurement, its image and revisions, behind each call): $OUT/audit-SYN1-001.html"
