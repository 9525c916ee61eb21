"""The chapters' data-dependent sentences, one module per chapter.

Each function takes analysis results (never patient rows) and returns the words a chapter shows:
a sentence to glue, or a MyST paragraph to show with :func:`nscore.report.narrative.md`. Which data would
make a sentence false is answered here, in code that is tested on odd cohorts (one diagnosis,
nothing collected, everyone censored), instead of in fixed text around glued numbers.
"""
