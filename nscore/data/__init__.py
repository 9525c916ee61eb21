"""Data layer: the ADaM schema, the study definition, reading and validating a delivery, the
versioned data store (one directory per cutoff), intake checks, withdrawal history and the
simulated cohort. Imports nothing above it."""
