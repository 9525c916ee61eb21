"""nscore.provenance: the box says simulated or real from the cutoff the page is built for."""

from __future__ import annotations

import json
import types

from nscore import provenance


def _prov(simulated: bool) -> provenance.Provenance:
    return provenance.Provenance(cutoff="2026-02-01", data_version="abc", simulated=simulated,
                                 parameters={"cutoff": "latest"}, build_time="t", commit="0123456789abcdef")


def test_box_says_simulated_or_real():
    sim, real = _prov(True), _prov(False)
    assert provenance.SIMULATED_SENTENCE in sim.markdown() and provenance.SIMULATED_SENTENCE in sim.html()
    for text in (real.markdown(), real.html()):
        assert "simulated" not in text.lower()
    assert provenance.REAL_SENTENCE in real.markdown()


def test_the_loaded_cohort_decides_over_the_recorded_context(monkeypatch):
    monkeypatch.setenv(provenance.ENV_VAR, json.dumps({**_prov(True).__dict__}))
    real_cohort = types.SimpleNamespace(simulated=False, cutoff="2026-02-01", version="abc")
    assert provenance.current(real_cohort).simulated is False
    assert provenance.current().simulated is True  # no cohort: the recorded context
    monkeypatch.delenv(provenance.ENV_VAR)
    assert provenance.current(real_cohort).simulated is False
    assert "simulated" not in provenance.box(real_cohort)._repr_markdown_().lower()
