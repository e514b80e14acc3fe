"""How much the dynamic-int8 image tower changes vectors and rankings against fp32, on real photos.

    python scripts/int8_quality.py SCIKIT_IMAGE_WHEEL [--model random:ViT-B-32-256]

Images: the photographs in scikit-image's wheel, each also as 7 crops and flips (so rankings have enough
candidates). Reports the cosine of each image's int8 vector to its fp32 vector, and the top-10 overlap of
rankings made with int8 vectors against those made with fp32 vectors for text queries (fp32 text tower) and
for each image as a query. With random weights this cannot show how real CLIP weights, whose activations
have outliers, quantise: it measures the quantiser on this architecture and these pixels.
"""

from __future__ import annotations

import argparse
import io
import json
import zipfile

import numpy as np

PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "chelsea.png", "coffee.png", "coins.png", "grass.png",
    "gravel.png", "hubble_deep_field.jpg", "moon.png", "motorcycle_left.png", "motorcycle_right.png",
    "retina.jpg", "rocket.jpg", "page.png", "text.png", "clock_motion.png",
)  # fmt: skip
QUERIES = ("an astronaut", "a cat", "a cup of coffee", "a motorcycle", "a rocket launch", "coins on a table",
           "the moon", "grass", "a brick wall", "printed text", "a clock", "stars in space")  # fmt: skip


def variants(data: bytes, rng: np.random.Generator) -> list[bytes]:
    """The photo and 7 random crops (half to full size), some mirrored, as PNG bytes."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    out = [image]
    for _ in range(7):
        scale = rng.uniform(0.5, 0.9)
        w, h = int(image.width * scale), int(image.height * scale)
        left, top = int(rng.integers(0, image.width - w + 1)), int(rng.integers(0, image.height - h + 1))
        crop = image.crop((left, top, left + w, top + h))
        out.append(crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else crop)
    encoded = []
    for picture in out:
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        encoded.append(buffer.getvalue())
    return encoded


def top_overlap(queries: np.ndarray, a: np.ndarray, b: np.ndarray, k: int = 10) -> np.ndarray:
    """|top-k by a ∩ top-k by b| / k for each query row."""
    top_a = np.argsort(-(queries @ a.T), axis=1)[:, :k]
    top_b = np.argsort(-(queries @ b.T), axis=1)[:, :k]
    return np.array([len(set(x) & set(y)) / k for x, y in zip(top_a, top_b, strict=True)])


def main() -> None:
    from viewfinder.images.decode import decode_bytes
    from viewfinder.models.onnx_runtime import OnnxEmbedder
    from viewfinder.models.registry import resolve_model

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel")
    parser.add_argument("--model", default="random:ViT-B-32-256")
    args = parser.parse_args()
    spec = resolve_model(args.model)
    fp32, int8 = OnnxEmbedder(spec), OnnxEmbedder(spec, int8=True)
    rng = np.random.default_rng(0)
    with zipfile.ZipFile(args.wheel) as archive:
        files = [data for name in PHOTOS for data in variants(archive.read(f"skimage/data/{name}"), rng)]
    pixels = np.stack([decode_bytes(data, fp32.preprocess).pixels for data in files])
    a = np.concatenate([fp32.encode_images(pixels[i : i + 32]) for i in range(0, len(pixels), 32)])
    b = np.concatenate([int8.encode_images(pixels[i : i + 32]) for i in range(0, len(pixels), 32)])
    cosine = (a * b).sum(1)
    texts = fp32.encode_texts(list(QUERIES))
    text_overlap, image_overlap = top_overlap(texts, a, b), top_overlap(a, a, b)
    print(
        json.dumps(
            {
                "model": args.model,
                "images": len(files),
                "cosine_min": round(float(cosine.min()), 5),
                "cosine_median": round(float(np.median(cosine)), 5),
                "text_top10_overlap_mean": round(float(text_overlap.mean()), 3),
                "text_top10_overlap_min": round(float(text_overlap.min()), 3),
                "image_top10_overlap_mean": round(float(image_overlap.mean()), 3),
                "image_top10_overlap_min": round(float(image_overlap.min()), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
