"""When a typed line names words in the photo: a phrase in double quotes (`receipt "42.50"`, `"Rua Augusta"`)
must be among the words read in the photo (`index --ocr`), and is taken out of the line's other words.

Straight and typographic quotes both count ("…" „…“ «…»). A quote left open is an ordinary character, so
`12" vinyl` stays words. An empty pair ("") says nothing and is dropped.
"""

from __future__ import annotations

import re

# A phrase between a pair of straight quotes, or of the typographic pairs phones and word processors type.
_QUOTED = re.compile(r'"([^"]*)"|“([^”]*)”|„([^“”]*)[“”]|«([^»]*)»')


def read_phrases(line: str) -> tuple[str, tuple[str, ...]]:
    """The line without its quoted phrases (spaces tidied) and the phrases, in order, each once."""
    phrases: list[str] = []

    def take(found: re.Match[str]) -> str:
        phrase = " ".join(next(group for group in found.groups() if group is not None).split())
        if phrase and phrase not in phrases:
            phrases.append(phrase)
        return " "

    rest = _QUOTED.sub(take, line)
    return " ".join(rest.split()), tuple(phrases)
