"""Banks of typical search prompts per model: the query side of relevance calibration (search/relevance.py).

A bank stands for "what people search this model's collections for". Any one prompt describes only a small
part of a collection, so the cosines of (bank prompt, collection image) pairs are mostly those of unrelated
pairs, with the matching pairs in their upper tail: the reference a query's cosine is rated against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from viewfinder.models.embedder import Embedder

# Everyday photo-search subjects, one prompt each; varied on purpose (people, animals, places, things, events).
PHOTO_PROMPTS: tuple[str, ...] = tuple(
    """
a dog playing in the snow|a cat sleeping on a sofa|a horse in a field|birds on a wire|a fish in an aquarium
a cow on a farm|a squirrel in a tree|a butterfly on a flower|ducks on a pond|a puppy on the grass
sunset over the sea|a sandy beach with palm trees|mountains with snow|a lake in the forest|a waterfall
a desert with dunes|a field of sunflowers|autumn leaves|a foggy morning|a rainbow over hills
city street at night|a skyscraper skyline|an old church|a bridge over a river|a busy market
a train station|an airport terminal|a harbour with boats|a country road|a lighthouse on the coast
birthday cake with candles|a plate of pasta|a cup of coffee|a pizza on a table|fresh fruit in a bowl
a glass of wine|breakfast with eggs|a barbecue grill|ice cream cone|a bowl of soup
a wedding ceremony|a group photo of friends|a baby smiling|children playing in a park|an old man reading
a woman with an umbrella|a family at dinner|people dancing at a party|a crowd at a concert|a selfie
a red car|a bicycle leaning on a wall|a motorbike|a sailing boat|an airplane in the sky
a bus in the street|a tractor|a vintage camera|a laptop on a desk|a smartphone screen
a christmas tree|fireworks at night|a swimming pool|a tent at a campsite|a snowman
a football match|a runner in a race|skiing down a slope|surfing a wave|a tennis court
a living room|a kitchen|a bedroom with a bed|a garden with roses|a bookshelf with books
a painting in a museum|graffiti on a wall|a statue in a square|a neon sign|a stained glass window
red flowers|a green forest|a blue sky with clouds|a black and white portrait|a yellow taxi
a screenshot of a document|a receipt|a handwritten note|a map|a whiteboard with writing
a close-up of an eye|hands holding a cup|feet in the sand|a dog's nose|a flower macro shot
a snowy village|a rainy window|a full moon|the milky way|a thunderstorm
a cathedral interior|a castle on a hill|ruins of a temple|a farmhouse|a wooden cabin
a birthday party|a graduation ceremony|a picnic in the park|a road trip|a hike in the mountains
""".replace("\n", "|")
    .strip("|")
    .split("|")
)


# The words of the shape world `test:shapes` was trained on (`viewfinder sample` draws it too), in its
# order: the bank's hash is part of an index's calibration, so a change here recalibrates every such index.
_COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "orange", "purple", "white", "black")
_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "ring", "cross")


def shapes_prompts() -> tuple[str, ...]:
    """The test:shapes world's searches: every colour and shape, each alone and together."""
    pairs = [f"a {colour} {shape}" for colour in _COLOURS for shape in _SHAPES]
    return (*pairs, *(f"a {shape}" for shape in _SHAPES), *(f"something {colour}" for colour in _COLOURS))


def calibration_prompts(model_name: str) -> tuple[str, ...]:
    """The bank of typical searches for the model an index was built with."""
    return shapes_prompts() if model_name.startswith("test:shapes") else PHOTO_PROMPTS


def prompt_vectors(embedder: Embedder) -> np.ndarray:
    """The model's text vectors of its bank: the query side an index's choice is measured on (store/)."""
    return embedder.encode_texts(list(calibration_prompts(embedder.spec.name)))
