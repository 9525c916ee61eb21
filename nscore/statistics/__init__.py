"""Statistics layer: estimators that know nothing about this study (Kaplan-Meier, Aalen-Johansen,
Cox, log-rank, exact binomial intervals), each checked against R in the tests."""
