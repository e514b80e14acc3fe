"""A search typed on one line, read into terms (search/typed.py): every form the README and the page teach, and
the lines that must stay literal text."""

from __future__ import annotations

import pytest

from viewfinder.errors import BadQueryError
from viewfinder.search.typed import parse_typed


def read(line: str) -> list[tuple[float, str]]:
    return [(term.weight, term.text or "") for term in parse_typed(line)]


@pytest.mark.parametrize(
    ("line", "terms"),
    [
        ("70% red circle + 30% green square", [(0.7, "red circle"), (0.3, "green square")]),
        ("70% of lake + 30%  mountains", [(0.7, "lake"), (0.3, "mountains")]),
        ("lake + mountains", [(1.0, "lake"), (1.0, "mountains")]),
        ("mountains, not snow", [(1.0, "mountains"), (-1.0, "snow")]),
        ("red circle Without square", [(1.0, "red circle"), (-1.0, "square")]),
        ("un cercle rouge sans carré", [(1.0, "un cercle rouge"), (-1.0, "carré")]),
        ("ein roter Kreis ohne Quadrat", [(1.0, "ein roter Kreis"), (-1.0, "Quadrat")]),
        ("mountains -snow -fog", [(1.0, "mountains"), (-1.0, "snow"), (-1.0, "fog")]),
        ("60% lake + 40% forest, not snow", [(0.6, "lake"), (0.4, "forest"), (-1.0, "snow")]),
    ],
)
def test_parts_weights_and_negatives_are_read(line: str, terms: list[tuple[float, str]]) -> None:
    assert read(line) == terms


@pytest.mark.parametrize(
    "line", ["a red circle", "t-shirt", "100% cotton", "-5 degrees outside", "rock+roll", "lake without", "c++"]
)
def test_a_line_without_syntax_is_one_text(line: str) -> None:
    assert read(line) == [(1.0, line)]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("-snow", "only what to avoid"),
        ("lake + ", "nothing on one side"),
        ("0% lake + 10% forest", "out of range"),
        ("70% + 30% forest", "weighs nothing"),
        ("lake, not ", None),  # a trailing ", not" is text: nothing to steer away from was typed
    ],
)
def test_mistakes_are_said_in_one_line(line: str, problem: str | None) -> None:
    if problem is None:
        assert read(line) == [(1.0, line.strip())]
        return
    with pytest.raises(BadQueryError, match=problem):
        parse_typed(line)
