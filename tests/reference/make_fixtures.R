# Writes the classic data sets used by tests/test_survival.py as CSV fixtures, so that the Python
# tests and reference_values.R read the very same numbers.
# Run from tests/reference/:  Rscript make_fixtures.R   (R 4.x, survival 3.5-x, MASS)
library(survival)
library(MASS)
# NCCTG lung cancer (survival::lung); status 1 = censored, 2 = dead
write.csv(lung[, c("time", "status", "sex", "age", "ph.ecog")], "lung.csv", row.names = FALSE)
# Acute myelogenous leukemia maintenance (survival::aml); status 1 = relapse
write.csv(data.frame(time = aml$time, status = aml$status, x = as.character(aml$x)),
          "aml.csv", row.names = FALSE)
# Veterans' administration lung cancer trial (survival::veteran)
write.csv(data.frame(time = veteran$time, status = veteran$status, trt = veteran$trt,
                     celltype = as.character(veteran$celltype), karno = veteran$karno),
          "veteran.csv", row.names = FALSE)
# Freireich et al. (1963) 6-MP vs placebo remission times (MASS::gehan); cens 1 = relapse
write.csv(data.frame(time = gehan$time, cens = gehan$cens, treat = as.character(gehan$treat)),
          "freireich.csv", row.names = FALSE)
# Stanford heart transplant (survival::jasa): dates, so the tests build ADSL/ADTTE from them
write.csv(data.frame(subject = seq_len(nrow(jasa)),
                     accept_dt = format(jasa$accept.dt), tx_date = format(jasa$tx.date),
                     fu_date = format(jasa$fu.date), fustat = jasa$fustat, age = jasa$age),
          "jasa.csv", row.names = FALSE, na = "")
# Monoclonal gammopathy (survival::mgus2): progression to plasma-cell malignancy (PCM) with
# death as a competing risk; months. event: 0 censored, 1 PCM, 2 death without PCM.
etime <- with(mgus2, ifelse(pstat == 0, futime, ptime))
event <- with(mgus2, ifelse(pstat == 0, 2 * death, 1))
write.csv(data.frame(id = mgus2$id, etime = etime, event = event), "mgus2.csv", row.names = FALSE)
