"""Analyses layer: the study's results computed from a validated cohort (populations, response,
survival, safety, headline and published figures), as numbers and frames, never as text."""
