# Golden fixtures for recistry's cohort statistics, generated once from R and committed.
#
#   Rscript tests/cohort/golden/make_golden.R tests/cohort/golden
#
# Needs Debian r-base-core and r-cran-survival (dev machines only; CI reads the JSON).
# Writes km_golden.json (Kaplan-Meier: median and 95% CI by quantile.survfit, S(t), pointwise
# log-log limits and n.risk at ticks by summary.survfit) and binom_golden.json (Clopper-Pearson
# intervals by binom.test). Inputs are stored with the outputs so the test feeds Python the same
# data. Numbers are written with 17 significant digits; NA becomes JSON null.
suppressPackageStartupMessages(library(survival))

args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[1] else "."

num <- function(x) {
  if (length(x) == 0) return("[]")
  s <- ifelse(is.na(x), "null", sprintf("%.17g", x))
  paste0("[", paste(s, collapse = ", "), "]")
}
one <- function(x) if (is.na(x)) "null" else sprintf("%.17g", x)
lgl <- function(x) paste0("[", paste(ifelse(x, "true", "false"), collapse = ", "), "]")

km_case <- function(name, time, event, ticks) {
  fit <- survfit(Surv(time, event) ~ 1, conf.type = "log-log")
  q <- quantile(fit, probs = 0.5)
  s <- summary(fit, times = ticks, extend = TRUE)
  paste0(
    "  {\"name\": \"", name, "\",\n",
    "   \"time\": ", num(time), ",\n",
    "   \"event\": ", lgl(event == 1), ",\n",
    "   \"median\": ", one(q$quantile[1]), ",\n",
    "   \"median_lower\": ", one(q$lower[1]), ",\n",
    "   \"median_upper\": ", one(q$upper[1]), ",\n",
    "   \"ticks\": ", num(ticks), ",\n",
    "   \"n_risk\": ", num(s$n.risk), ",\n",
    "   \"surv\": ", num(s$surv), ",\n",
    "   \"lower\": ", num(s$lower), ",\n",
    "   \"upper\": ", num(s$upper), "}"
  )
}

cases <- list()
ticks <- c(0, 3, 6, 12, 18, 24, 30, 36, 48)
# A: ten events at 1..10 months; S = 0.5 exactly on [5, 6) -> midpoint rule gives 5.5.
cases[[length(cases) + 1]] <- km_case("A_flat_at_half", 1:10, rep(1, 10), c(0, 2, 5, 6, 10))
# Median not reached: few events.
cases[[length(cases) + 1]] <- km_case(
  "C_not_reached",
  c(3.1, 5.2, 8.8, 12.0, 14.5, 20.1, 25.3, 30.0, 33.3, 36.9, 40.2, 44.4, 47.0, 50.5, 52.7,
    55.0, 57.5, 58.0, 59.1, 60.0, 60.0, 61.2, 62.3, 63.0, 64.4),
  c(0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
  ticks)
# Last observation an event: S drops to 0 and R's upper limit is NA.
cases[[length(cases) + 1]] <- km_case(
  "drops_to_zero", c(2, 4, 6, 8, 9, 12, 15, 18, 21, 24), c(1, 0, 1, 1, 0, 1, 1, 0, 1, 1), ticks)
# Ties: events and censorings on the same 3-monthly scan dates.
cases[[length(cases) + 1]] <- km_case(
  "D_ties_on_ticks",
  c(6, 6, 6, 12, 12, 12, 12, 18, 24, 24, 24, 30, 30, 36, 36, 36, 48, 48, 48, 54),
  c(1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0),
  ticks)
# Flat exactly at 0.5 to the end of follow-up: midpoint between its start and the last time.
cases[[length(cases) + 1]] <- km_case("flat_half_to_end", c(1, 2, 3, 4, 5, 6, 7, 8),
                                      c(1, 1, 1, 1, 0, 0, 0, 0), c(0, 2, 4, 8))
# The synthetic seed cohort of sample_dicom/cohort (PFS and OS days as the engine scores them).
pfs_days <- c(1700, 1600, 1500, 1300, 1280, 1000, 960, 800, 630, 1400, 700, 1150, 455, 867, 1100,
              1460, 540, 400, 720, 273, 365, 610, 182, 84, 90)
pfs_event <- c(0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1)
os_days <- c(1880, 1780, 1680, 1480, 1500, 1525, 1550, 1575, 1600, 1625, 1650, 1675, 1700, 1725,
             1750, 1775, 1800, 1825, 1850, 900, 1900, 1925, 700, 400, 520)
os_event <- c(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1)
cases[[length(cases) + 1]] <- km_case("seed_pfs_months", pfs_days / 30.4375, pfs_event,
                                      c(0, 6, 12, 24, 36, 48, 60))
cases[[length(cases) + 1]] <- km_case("seed_os_months", os_days / 30.4375, os_event,
                                      c(0, 6, 12, 24, 36, 48, 60))
set.seed(20240516)
for (i in 1:40) {
  n <- sample(8:40, 1)
  t <- round(rexp(n, 1 / 24), 1) + 0.1
  if (i %% 2 == 0) t <- ceiling(t / 3) * 3   # scan-visit grid: many ties and exact-0.5 flats
  e <- rbinom(n, 1, 0.65)
  cases[[length(cases) + 1]] <- km_case(sprintf("random_%02d", i), t, e, ticks)
}
writeLines(c("{\"generator\": \"R survival ", as.character(packageVersion("survival")),
             "\", \"conf_type\": \"log-log\", \"cases\": [",
             paste(cases, collapse = ",\n"), "]}"),
           file.path(out_dir, "km_golden.json"), sep = "")

rows <- c()
for (n in c(1, 2, 3, 4, 5, 16, 17, 21, 25, 100)) {
  for (k in 0:n) {
    if (n > 25 && !(k %in% c(0, 1, 36, 99, 100))) next
    ci <- binom.test(k, n)$conf.int
    rows <- c(rows, sprintf("  {\"k\": %d, \"n\": %d, \"lower\": %s, \"upper\": %s}",
                            k, n, one(ci[1]), one(ci[2])))
  }
}
writeLines(c("{\"generator\": \"R stats binom.test ", R.version$major, ".", R.version$minor,
             "\", \"cases\": [\n", paste(rows, collapse = ",\n"), "]}"),
           file.path(out_dir, "binom_golden.json"), sep = "")
