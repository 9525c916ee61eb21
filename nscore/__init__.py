"""nscore: data, analyses and build pipeline of the NS7CAR pooled-cohort living publication."""

__version__ = "0.1.0"
