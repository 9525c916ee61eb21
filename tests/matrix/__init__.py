"""Cohorts of the data-matrix test (issue 11): ``from matrix import COHORTS`` (tests/ is on sys.path).

See ``cohorts.py`` (the registry and the simulated builders), ``convert_myeloid.py`` (R
``survival::myeloid``, simulated by its authors, converted), ``convert_mgus2.py`` (R
``survival::mgus2``, real Mayo Clinic patients, converted), ``book.py`` (the whole book built on one
cohort) and README.md (the forced choices).
"""

from .cohorts import COHORTS, SHAPES, default_study  # noqa: F401
from .convert_mgus2 import build_mgus2, export_mgus2  # noqa: F401
from .convert_myeloid import build_myeloid, export_myeloid  # noqa: F401
