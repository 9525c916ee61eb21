"""Chapter prose holds no typed number that should come from the data (issue 11).

A chapter sentence that types a count ("five trials", "the 334 patients") is true only for the cohort
it was written against; every data-dependent number must be glued from a code cell (``{glue:text}``)
or built by ``nscore.report.narrative``. This test reads every ``chapters/src/*.md``, removes what is not
prose or carries computed values (YAML front matter, code cells, MyST roles that glue or cross-
reference, directive headers and their option lines, link targets, labels, comments), and then
flags:

- every token holding an ASCII digit ``[0-9]`` (with the ``%``, ordinal or decimal that goes with it,
  and identifiers such as a trial registration "NCT04572308" or a product name "NS7CAR"), and
- the number words one..twelve, because "five trials" is exactly the bug of issue 11,

unless an entry of ``ALLOWED`` (a short list, each with the reason the number is not data) covers
the occurrence. Each failure names file, line and the offending text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters" / "src"

NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve")

#: Typed numbers that are not data: (regex, why it is allowed). An occurrence is allowed when a match
#: of one of these patterns covers it. Patterns are matched on the whole stripped chapter, and a
#: space in a pattern matches any run of white space, so a phrase may wrap across lines. Keep this
#: list short: a number that changes with the cohort, the study or an analysis parameter must be
#: glued instead.
ALLOWED: list[tuple[str, str]] = [
    # the confidence level and sidedness are method choices stated with the method
    (r"\b95% (?:confidence|CI\b|intervals?\b)", "confidence level of every interval (method, not data)"),
    (r"\bare 95% intervals\b", "confidence level of every interval (method, not data)"),
    (r"\btwo-sided\b", "sidedness of the intervals (method, not data)"),
    (r"\bclose to 0 or 1\b", "the bounds of a proportion (mathematics)"),
    (r"\bone half\b", "definition of the median (mathematics)"),
    # names and citations
    (r"\b67th Annual Meeting of the American Society of Hematology\b",
     "name of the meeting where the abstract was presented (a citation, not data)"),
    (r"\bEuropean LeukemiaNet 2022\b", "name and year of the cited AML response criteria"),
    (r"\bphase 1 trial\b", "phase of the cited first-in-human trial (background, a citation)"),
    (r"\bISO 8601\b|\bUTF-8\b|\bSHA-256\b", "names of standards (date format, encoding, hash)"),
    (r"\bCD(?:7|19)\b", "names of antigens"),
    # definitions of the response and toxicity criteria, the same for every cohort
    (r"\bfewer than 5% blasts\b", "definition of marrow CR in the leukemia response criteria"),
    (r"\b[Gg]rades? [1-5](?:, [1-5])*(?: (?:or|to|and) [1-5])?(?: or higher)?\b",
     "ASTCT grade (scale definition)"),
    (r"\bgraded 1 to 5\b", "range of the ASTCT grading scale"),
    (r"\bCNSR = 0 marks an event and 1 a censored\b", "ADaM censoring codes (data model)"),
    # idioms in which "one" is not a count
    (r"\bone another\b|\bfrom one curve to the other\b", "idiom"),
    (r"\bat least one (?:infusion|NS7CAR infusion)\b", "eligibility definition: at least one infusion"),
    (r"\bthe one consolidation with curative intent\b", "'the one' = the only (background prose)"),
    (r"\bfreezes a cohort at one data cutoff\b", "what any abstract does (general statement)"),
    # the name of the published CAR-T platform in background's literature review (not the therapy of
    # the data, which is glued from cohort.study.therapy)
    (r"\bThe NS7CAR programme began with\b|\bthe Lu Daopei group \(NS7CAR\)",
     "name of the published platform in background's literature review (a citation, not data)"),
]


def _blank(match: re.Match) -> str:
    """Replace a match with spaces, keeping newlines (so line numbers and columns stay right)."""
    return re.sub(r"[^\n]", " ", match.group(0))


_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
# a fenced code cell (backticks or tildes, 3 or more, closed by the same fence)
_CODE_CELL = re.compile(r"^(?P<fence>`{3,}|~{3,})\{code-cell\}.*?^(?P=fence)\s*$", re.S | re.M)
# other fenced code without a directive: ```python, ```bash, ```
_CODE_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})(?!\{)[^\n]*\n.*?^(?P=fence)\s*$", re.S | re.M)
# the header line of a directive (```{figure} path, :::{admonition} Title is prose: kept below)
_DIRECTIVE_HEADER = re.compile(r"^(?:`{3,}|~{3,}|:{3,})\{(?P<name>[\w:-]+)\}(?P<arg>[^\n]*)$", re.M)
# directive option lines ":name: fig-flow", ":class: warning", ":width: 80%"
_OPTION = re.compile(r"^[ \t]*:[\w-]+:(?:[ \t][^\n]*)?$", re.M)
# roles that carry computed values or references
_ROLES = re.compile(r"\{(?:glue(?::\w+)?|numref|ref|doc|eq|cite(?::\w+)?|download|term)\}`[^`]*`")
_INLINE_CODE = re.compile(r"``[^`]+``|`[^`\n]+`")
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
_LABEL = re.compile(r"^\([\w:-]+\)=\s*$", re.M)
_COMMENT = re.compile(r"<!--.*?-->|^%[^\n]*$", re.S | re.M)
_DISPLAY_MATH = re.compile(r"\$\$.*?\$\$", re.S)
_LIST_MARKER = re.compile(r"^[ \t]*[0-9]+[.)](?=[ \t])", re.M)  # "1. Put the files ..." (numbering)

#: directives whose header argument is prose (a title), not a path or key
_TITLE_DIRECTIVES = {"admonition", "note", "warning", "important", "tip", "caution", "seealso"}

# a token holding a digit: "334", "86.3%", "2nd", and identifiers "NCT04572308", "NS7CAR"
_DIGITS = re.compile(r"(?<![\w.])[A-Za-z_]*[0-9]\w*(?:[.,][0-9]+)*%?")
_WORDS = re.compile(r"\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.I)


def prose(text: str) -> str:
    """``text`` with everything that is not typed prose blanked out (same lines and columns)."""
    text = _FRONT_MATTER.sub(_blank, text)
    text = _CODE_CELL.sub(_blank, text)
    text = _CODE_FENCE.sub(_blank, text)

    def header(m: re.Match) -> str:
        if m.group("name") in _TITLE_DIRECTIVES:  # keep the title, blank the fence and the name
            return " " * (m.start("arg") - m.start()) + m.group("arg")
        return _blank(m)

    text = _DIRECTIVE_HEADER.sub(header, text)
    text = re.sub(r"^(?:`{3,}|~{3,}|:{3,})\s*$", _blank, text, flags=re.M)  # closing fences
    for pattern in (_OPTION, _ROLES, _INLINE_CODE, _LINK_TARGET, _LABEL, _COMMENT, _DISPLAY_MATH,
                    _LIST_MARKER):
        text = pattern.sub(_blank, text)
    return text


def typed_numbers(text: str) -> list[tuple[int, str, str]]:
    """``(line number, offending token, the stripped line)`` for every typed number not allowed."""
    stripped = prose(text)
    lines = stripped.splitlines()
    allowed = [m.span() for pattern, _ in ALLOWED
               for m in re.finditer(pattern.replace(" ", r"\s+"), stripped)]
    found = []
    for m in (*_DIGITS.finditer(stripped), *_WORDS.finditer(stripped)):
        if not any(a <= m.start() and m.end() <= b for a, b in allowed):
            lineno = stripped.count("\n", 0, m.start()) + 1
            found.append((m.start(), lineno, m.group(0), lines[lineno - 1].strip()))
    return [(lineno, token, line) for _, lineno, token, line in sorted(found)]


def offenders() -> list[str]:
    out = []
    for path in sorted(CHAPTERS.glob("*.md")):
        for lineno, token, line in typed_numbers(path.read_text(encoding="utf-8")):
            out.append(f"{path.relative_to(ROOT)}:{lineno}: {token!r} in: {' '.join(line.split())}")
    return out


# ------------------------------------------------------------------------------ the check itself


def test_chapter_prose_has_no_typed_numbers():
    found = offenders()
    assert not found, "typed numbers in chapter prose (glue them, or allow-list with a reason):\n" + \
        "\n".join(found)


# ------------------------------------------------------------------------ the scanner, on examples


def test_chapters_exist():
    assert len(list(CHAPTERS.glob("*.md"))) >= 1


def test_front_matter_code_cells_and_roles_are_not_prose():
    text = (
        "---\njupytext:\n  format_version: 0.13\n---\n\n# Results\n\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\n\nlandmark_day = 100\nglue('n', 334)\n```\n\n"
        "{glue:text}`n_infused` patients, {glue:}`x2` and {glue}`y3`, see {numref}`fig-km-2`,\n"
        "{ref}`sec-1`, {doc}`v2`, {cite:p}`zhang2025ash` and {cite:t}`lee2019`.\n"
        "```{glue:figure} fig_km_2\n:name: fig-km-2\n:width: 80%\n\nSurvival by diagnosis.\n```\n"
        "A [link](changes-2.html) and `nscore update 2026-02-01`.\n"
        "(sec-2)=\n<!-- 12 comments -->\n"
    )
    assert typed_numbers(text) == []


def test_digits_and_number_words_are_flagged_with_line_numbers():
    text = "---\na: 1\n---\nThe 334 patients\nof five trials, 86.3% and ORR 12.5; the 2nd cut\n"
    found = typed_numbers(text)
    assert [(n, tok) for n, tok, _ in found] == [(4, "334"), (5, "five"), (5, "86.3%"), (5, "12.5"),
                                                 (5, "2nd")]
    assert found[0][2] == "The 334 patients"


def test_number_words_are_whole_words_case_insensitive():
    found = [tok for _, tok, _ in typed_numbers("Three analyses; someone, tones, often, Nineteen.\n")]
    assert found == ["Three"]


def test_prose_inside_directives_is_checked():
    text = ":::{admonition} Five trials\n:class: warning\n\nThe 5 trials are pooled.\n:::\n"
    assert [(n, tok) for n, tok, _ in typed_numbers(text)] == [(1, "Five"), (4, "5")]
    text = "```{note}\nSeven diagnoses.\n```\n"
    assert [tok for _, tok, _ in typed_numbers(text)] == ["Seven"]


def test_allow_list_covers_only_its_context():
    text = ("Intervals are exact 95% confidence intervals.\nGrade 3 or higher CRS.\n"
            "They used 95% of the budget.\nat least one infusion; one patient.\n")
    found = [(n, tok) for n, tok, _ in typed_numbers(text)]
    assert found == [(3, "95%"), (4, "one")]


def test_allow_list_phrases_may_wrap_across_lines():
    text = "Neurotoxicity at grades\n3, 4 and 5; shown at the 67th Annual\nMeeting of the American Society of Hematology.\n"
    assert typed_numbers(text) == []
    assert [tok for _, tok, _ in typed_numbers("the 67th\npatient\n")] == ["67th"]


def test_identifiers_with_digits_are_flagged():
    text = "Trials NCT04572308 and NCT05626400 of NS7CAR-T target CD7.\n"
    assert [tok for _, tok, _ in typed_numbers(text)] == ["NCT04572308", "NCT05626400", "NS7CAR"]


def test_numbered_list_markers_are_not_numbers():
    assert [(n, tok) for n, tok, _ in typed_numbers("1. Put the files here.\n2) Run it on 4 files.\n")] == \
        [(2, "4")]


def test_every_allow_list_entry_has_a_reason_and_compiles():
    for pattern, reason in ALLOWED:
        re.compile(pattern)
        assert reason.strip()


def test_line_numbers_survive_stripping():
    text = "---\na: 1\nb: 2\n---\n```{code-cell} ipython3\nx = 1\n\ny = 2\n```\nthe last line has 10\n"
    assert [n for n, _, _ in typed_numbers(text)] == [10]
