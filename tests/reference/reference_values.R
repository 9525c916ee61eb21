# Reference values for tests/test_survival.py, computed with R's survival package from the CSV
# fixtures written by make_fixtures.R.  Run from tests/reference/:
#   Rscript reference_values.R > reference_values.txt
# Every value pasted into the tests is printed here, next to the call that produced it.
suppressMessages(library(survival))
options(digits = 10, width = 150)
lung <- read.csv("lung.csv"); aml <- read.csv("aml.csv"); veteran <- read.csv("veteran.csv")
freireich <- read.csv("freireich.csv"); jasa <- read.csv("jasa.csv", na.strings = "")
mgus2 <- read.csv("mgus2.csv")
show <- function(label, x) { cat("\n##", label, "\n"); print(x) }

# ---- Kaplan-Meier: medians with CI (three transforms), survival at fixed times, numbers at risk
for (ct in c("log", "log-log", "plain")) {
  fit <- survfit(Surv(time, status) ~ 1, data = lung, conf.type = ct)
  show(paste0("lung KM quantile conf.type=", ct), quantile(fit, 0.5))
  s <- summary(fit, times = c(90, 180, 365, 730))
  show(paste0("lung KM summary times conf.type=", ct),
       data.frame(time = s$time, n.risk = s$n.risk, n.event = s$n.event, n.censor = s$n.censor,
                  surv = s$surv, std.err = s$std.err, lower = s$lower, upper = s$upper))
}
for (ct in c("log", "log-log", "plain")) {
  fit <- survfit(Surv(time, cens) ~ treat, data = freireich, conf.type = ct)
  show(paste0("freireich KM by treat quantile conf.type=", ct), quantile(fit, 0.5))
  fit <- survfit(Surv(time, status) ~ x, data = aml, conf.type = ct)
  show(paste0("aml KM by x quantile conf.type=", ct), quantile(fit, 0.5))
}
# flat 0.5 segments: median is the midpoint of the flat stretch
toy1 <- data.frame(time = c(1, 2, 3, 4, 5, 6), status = c(1, 1, 1, 0, 1, 0))
show("toy1 quantile", quantile(survfit(Surv(time, status) ~ 1, data = toy1), 0.5))
toy2 <- data.frame(time = c(1, 2, 3, 4), status = c(1, 1, 0, 0))
show("toy2 quantile", quantile(survfit(Surv(time, status) ~ 1, data = toy2), 0.5))
# every remaining patient fails on the same day: S drops from 1 to 0, R's lower limit is NA
toy4 <- data.frame(time = c(5, 5, 5, 7), status = c(1, 1, 1, 0))
show("toy4 quantile log", quantile(survfit(Surv(time, status) ~ 1, data = toy4), 0.5))
toy5 <- data.frame(time = c(5, 5, 5), status = c(1, 1, 1))
show("toy5 quantile log", quantile(survfit(Surv(time, status) ~ 1, data = toy5), 0.5))
fit <- survfit(Surv(time, status) ~ 1, data = veteran, conf.type = "log-log")
s <- summary(fit, times = c(30, 100, 365))
show("veteran KM summary times log-log", data.frame(time = s$time, n.risk = s$n.risk,
     surv = s$surv, lower = s$lower, upper = s$upper))

# ---- log-rank (survdiff)
d <- survdiff(Surv(time, status) ~ sex, data = lung)
show("lung survdiff ~ sex", list(chisq = d$chisq, obs = d$obs, exp = d$exp,
     p = pchisq(d$chisq, length(d$n) - 1, lower.tail = FALSE)))
d <- survdiff(Surv(time, status) ~ celltype, data = veteran)
show("veteran survdiff ~ celltype", list(chisq = d$chisq, obs = d$obs, exp = d$exp,
     p = pchisq(d$chisq, length(d$n) - 1, lower.tail = FALSE)))
d <- survdiff(Surv(time, cens) ~ treat, data = freireich)
show("freireich survdiff ~ treat", list(chisq = d$chisq, obs = d$obs, exp = d$exp,
     p = pchisq(d$chisq, length(d$n) - 1, lower.tail = FALSE)))

# ---- Cox (Efron ties, the coxph default)
f <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = "efron")
show("lung coxph ~ age + sex + ph.ecog", summary(f)$coefficients)
show("lung coxph conf.int", summary(f)$conf.int)
f <- coxph(Surv(time, status) ~ karno + celltype, data = veteran, ties = "efron")
show("veteran coxph ~ karno + celltype", summary(f)$coefficients)
show("veteran coxph conf.int", summary(f)$conf.int)

# ---- reverse Kaplan-Meier median follow-up (Schemper & Smith)
for (ct in c("log", "log-log")) {
  fit <- survfit(Surv(time, status == 1) ~ 1, data = lung, conf.type = ct)
  show(paste0("lung reverse KM quantile conf.type=", ct), quantile(fit, 0.5))
}

# ---- transplant as a time-dependent covariate (survival 'timedep' vignette conventions:
#      zero follow-up -> 0.5 day; transplant on the last day -> half a day earlier)
jasa$accept_dt <- as.Date(jasa$accept_dt); jasa$tx_date <- as.Date(jasa$tx_date)
jasa$fu_date <- as.Date(jasa$fu_date)
tdata <- with(jasa, data.frame(subject = subject,
                               futime = pmax(.5, as.numeric(fu_date - accept_dt)),
                               txtime = ifelse(tx_date == fu_date,
                                               as.numeric(tx_date - accept_dt) - .5,
                                               as.numeric(tx_date - accept_dt)),
                               fustat = fustat))
sdata <- tmerge(jasa[, c("subject", "age")], tdata, id = subject,
                death = event(futime, fustat), trt = tdc(txtime))
show("jasa tmerge rows", c(nrow(sdata), sum(sdata$death)))
f <- coxph(Surv(tstart, tstop, death) ~ trt, data = sdata)
show("jasa coxph(Surv(tstart, tstop, death) ~ trt)", summary(f)$coefficients)
show("jasa td conf.int", summary(f)$conf.int)
f <- coxph(Surv(tstart, tstop, death) ~ age + trt, data = sdata)
show("jasa coxph(Surv(tstart, tstop, death) ~ age + trt)", summary(f)$coefficients)
# Simon-Makuch: product-limit on the counting-process data, by current transplant status
fit <- survfit(Surv(tstart, tstop, death) ~ trt, data = sdata)
s <- summary(fit, times = c(10, 30, 100, 365))
show("jasa Simon-Makuch survfit(Surv(tstart, tstop, death) ~ trt)",
     data.frame(strata = s$strata, time = s$time, n.risk = s$n.risk, surv = s$surv,
                lower = s$lower, upper = s$upper))
# landmark at day 30: alive and in follow-up at day 30; group = transplanted by day 30
lm <- subset(tdata, futime >= 30)
lm$txday <- as.numeric(jasa$tx_date - jasa$accept_dt)[lm$subject]  # raw transplant day
lm$grp <- ifelse(!is.na(lm$txday) & lm$txday <= 30, "HCT", "noHCT")
lm$t <- lm$futime - 30
show("jasa landmark 30 n by group", table(lm$grp))
d <- survdiff(Surv(t, fustat) ~ grp, data = lm)
show("jasa landmark survdiff", list(chisq = d$chisq, obs = d$obs, exp = d$exp,
     p = pchisq(d$chisq, 1, lower.tail = FALSE)))
fit <- survfit(Surv(t, fustat) ~ grp, data = lm, conf.type = "log-log")
show("jasa landmark quantile", quantile(fit, 0.5))
s <- summary(fit, times = c(100, 365))
show("jasa landmark summary", data.frame(strata = s$strata, time = s$time, n.risk = s$n.risk,
     surv = s$surv))

# ---- Aalen-Johansen cumulative incidence (multi-state survfit, factor status)
ev <- factor(mgus2$event, 0:2, c("censor", "pcm", "death"))
fit <- survfit(Surv(etime, ev) ~ 1, data = mgus2)
s <- summary(fit, times = c(60, 120, 240, 360))
show("mgus2 AJ pstate (s0, pcm, death)", s$pstate)
show("mgus2 AJ std.err", s$std.err)
show("mgus2 AJ lower", s$lower)
show("mgus2 AJ upper", s$upper)
show("mgus2 AJ n.risk", s$n.risk[, 1])
# a small set with relapse, death and censoring tied at the same times
toy3 <- data.frame(time = c(2, 2, 2, 3, 5, 5, 5, 7, 8, 8, 9, 12),
                   event = c(1, 2, 0, 1, 1, 2, 0, 2, 1, 0, 0, 1))
fit <- survfit(Surv(time, factor(event, 0:2, c("c", "rel", "death"))) ~ 1, data = toy3)
s <- summary(fit, times = c(2, 5, 8, 12))
show("toy3 AJ pstate (s0, rel, death)", s$pstate)
show("toy3 AJ std.err", s$std.err)
show("toy3 AJ lower", s$lower)
show("toy3 AJ upper", s$upper)
