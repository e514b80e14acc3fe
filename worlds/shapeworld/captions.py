"""Training captions for shape pictures: in English, French, German and Spanish, complete or partial.

Complete English captions are the sample pictures' own (`synthetic.describe`); this module adds partial ones
and a small grammar per language, with the genders and agreement of each, so that the `test:shapes` model
learns "un cercle rouge", "ein roter Kreis" and "un círculo rojo" as well as "a red circle". Words are keyed
by the English colour and shape names the scenes use.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from viewfinder.images import synthetic
from viewfinder.images.synthetic import ShapeObject

LANGUAGES: tuple[str, ...] = ("en", "fr", "de", "es")

# Nouns: (gender, singular, plural). German "Sternform" is a second word for a star, as people also write.
_FR_NOUNS = {
    "circle": [("m", "cercle", "cercles")],
    "square": [("m", "carré", "carrés")],
    "triangle": [("m", "triangle", "triangles")],
    "star": [("f", "étoile", "étoiles")],
    "ring": [("m", "anneau", "anneaux")],
    "cross": [("f", "croix", "croix")],
}
_DE_NOUNS = {
    "circle": [("m", "Kreis", "Kreise")],
    "square": [("n", "Quadrat", "Quadrate")],
    "triangle": [("n", "Dreieck", "Dreiecke")],
    "star": [("m", "Stern", "Sterne"), ("f", "Sternform", "Sternformen")],
    "ring": [("m", "Ring", "Ringe")],
    "cross": [("n", "Kreuz", "Kreuze")],
}
_ES_NOUNS = {
    "circle": [("m", "círculo", "círculos")],
    "square": [("m", "cuadrado", "cuadrados")],
    "triangle": [("m", "triángulo", "triángulos")],
    "star": [("f", "estrella", "estrellas")],
    "ring": [("m", "anillo", "anillos")],
    "cross": [("f", "cruz", "cruces")],
}
_NOUNS = {"fr": _FR_NOUNS, "de": _DE_NOUNS, "es": _ES_NOUNS}

# French and Spanish adjectives: masculine, feminine, masculine plural, feminine plural ("orange" and
# "naranja" do not agree). German keeps one stem and takes its ending from gender and number below.
_FR_COLOURS = {
    "red": ("rouge", "rouge", "rouges", "rouges"),
    "green": ("vert", "verte", "verts", "vertes"),
    "blue": ("bleu", "bleue", "bleus", "bleues"),
    "yellow": ("jaune", "jaune", "jaunes", "jaunes"),
    "orange": ("orange", "orange", "orange", "orange"),
    "purple": ("violet", "violette", "violets", "violettes"),
    "white": ("blanc", "blanche", "blancs", "blanches"),
    "black": ("noir", "noire", "noirs", "noires"),
}
_ES_COLOURS = {
    "red": ("rojo", "roja", "rojos", "rojas"),
    "green": ("verde", "verde", "verdes", "verdes"),
    "blue": ("azul", "azul", "azules", "azules"),
    "yellow": ("amarillo", "amarilla", "amarillos", "amarillas"),
    "orange": ("naranja", "naranja", "naranja", "naranja"),
    "purple": ("morado", "morada", "morados", "moradas"),
    "white": ("blanco", "blanca", "blancos", "blancas"),
    "black": ("negro", "negra", "negros", "negras"),
}
_DE_STEMS = {
    "red": "rot",
    "green": "grün",
    "blue": "blau",
    "yellow": "gelb",
    "orange": "orangefarben",
    "purple": "violett",
    "white": "weiß",
    "black": "schwarz",
}
# German adjective endings in the nominative, with "ein"/"eine" or no article (the same endings): by gender,
# and "e" for a plural without article ("zwei rote Kreise").
_DE_ENDINGS = {"m": "er", "f": "e", "n": "es", "pl": "e"}
_ARTICLES = {"fr": {"m": "un", "f": "une"}, "de": {"m": "ein", "f": "eine", "n": "ein"}, "es": {"m": "un", "f": "una"}}
_NUMBERS = {
    "fr": {2: "deux", 3: "trois", 4: "quatre"},
    "de": {2: "zwei", 3: "drei", 4: "vier"},
    "es": {2: "dos", 3: "tres", 4: "cuatro"},
}
_AND = {"fr": "et", "de": "und", "es": "y"}
_PREFIXES = {
    "fr": ("une photo de ", "une image de "),
    "de": ("Foto: ", "Bild: "),
    "es": ("una foto de ", "una imagen de "),
}
# Colour alone, as a query or a partial caption.
_SOMETHING = {"fr": "quelque chose de {}", "es": "algo {}"}


def _colour_word(language: str, colour: str, gender: str, plural: bool) -> str:
    if language == "de":
        return _DE_STEMS[colour] + _DE_ENDINGS["pl" if plural else gender]
    forms = (_FR_COLOURS if language == "fr" else _ES_COLOURS)[colour]
    return forms[(2 if plural else 0) + (gender == "f")]


def phrase(language: str, colour: str, shape: str, count: int = 1, *, variant: int = 0, article: bool = True) -> str:
    """`count` objects of a colour and shape: "un cercle rouge", "zwei rote Kreise", "una estrella azul".

    `variant` picks among a shape's nouns (German has "Stern" and "Sternform"); `article=False` drops the
    article of a single object ("roter Kreis"), as people type queries.
    """
    nouns = _NOUNS[language][shape]
    gender, singular, plural = nouns[variant % len(nouns)]
    noun = plural if count > 1 else singular
    adjective = _colour_word(language, colour, gender, count > 1)
    words = [adjective, noun] if language == "de" else [noun, adjective]
    if count > 1:
        words.insert(0, _NUMBERS[language][count])
    elif article:
        words.insert(0, _ARTICLES[language][gender])
    return " ".join(words)


def query(language: str, colour: str, shape: str) -> str:
    """The plain query for one object in a language: "a red circle", "un cercle rouge", "ein roter Kreis"."""
    if language == "en":
        return f"a {colour} {shape}"
    return phrase(language, colour, shape)


def describe(language: str, groups: Sequence[tuple[str, str, int]], rng: np.random.Generator, complete: bool) -> str:
    """A caption in French, German or Spanish for groups of (colour, shape, count).

    As in English, `complete=False` may name one group only, or just a shape or a colour.
    """
    if not complete:
        colour, shape, _ = groups[int(rng.integers(len(groups)))]
        roll = rng.random()
        if roll < 0.15:
            gender, singular, _ = _NOUNS[language][shape][int(rng.integers(len(_NOUNS[language][shape])))]
            return singular if rng.random() < 0.4 else f"{_ARTICLES[language][gender]} {singular}"
        if roll < 0.3:
            word = _DE_STEMS[colour] if language == "de" else _colour_word(language, colour, "m", False)
            return _SOMETHING[language].format(word) if language != "de" and rng.random() < 0.3 else word
        if roll < 0.45:
            groups = [groups[int(rng.integers(len(groups)))]]
    variant = int(rng.integers(2))
    bare = len(groups) == 1 and groups[0][2] == 1 and rng.random() < 0.25
    parts = [phrase(language, c, s, n, variant=variant, article=not bare) for c, s, n in groups]
    order = rng.permutation(len(parts))
    parts = [parts[i] for i in order]
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + f" {_AND[language]} " + parts[-1]
    if not bare and rng.random() < 0.4:
        text = str(rng.choice(_PREFIXES[language])) + text
        text = text.replace(" de un", " d'un") if language == "fr" else text  # élision: "d'une étoile"
    return text


def describe_english(
    objects: Sequence[ShapeObject], background: str | None, rng: np.random.Generator, complete: bool
) -> str:
    """An English caption; `complete=False` may name only some objects or one attribute.

    Partial captions teach the model that "a red circle" also fits a picture holding a red circle and a blue
    star, and give single words like "circle" or "red" a meaning of their own.
    """
    if complete:
        return synthetic.describe(objects, background, rng)
    roll = rng.random()
    if roll < 0.15:
        obj = objects[int(rng.integers(len(objects)))]
        return str(rng.choice([obj.shape, f"a {obj.shape}", f"a photo of a {obj.shape}"]))
    if roll < 0.3:
        colour = objects[int(rng.integers(len(objects)))].colour
        return str(rng.choice([colour, f"something {colour}", f"{synthetic.article(colour)} {colour} shape"]))
    groups = synthetic.group(objects)
    if roll < 0.45 and len(groups) > 1:
        objects = groups[int(rng.integers(len(groups)))]
    return synthetic.describe(objects, background, rng)
