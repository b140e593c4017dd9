"""Turning generator outputs into pictures: uint8 conversion, grids, PNGs."""

import math
import os

import numpy as np


def to_uint8(images, value_range=(-1.0, 1.0)):
    """Maps float images in `value_range` to uint8 [0, 255], clipping outliers."""
    low, high = value_range
    images = (np.asarray(images, dtype=np.float32) - low) / (high - low)
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)


def make_grid(images, columns=None, padding=2):
    """Tiles `(N, H, W, C)` uint8 images into one `(rows*H', cols*W', C)` image.

    Args:
        images: uint8 images; C is 1 or 3.
        columns: images per row; default: the smallest square that fits N.
        padding: pixels of black border between and around the images.
    """
    images = np.asarray(images)
    count, height, width, channels = images.shape
    columns = columns or math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    grid = np.zeros(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        dtype=np.uint8,
    )
    for i, image in enumerate(images):
        row, column = divmod(i, columns)
        top = padding + row * (height + padding)
        left = padding + column * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def save_png(image, path):
    """Writes an `(H, W, C)` uint8 image to `path` as PNG, atomically."""
    from PIL import Image

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp"
    Image.fromarray(image).save(temporary, format="PNG")
    os.replace(temporary, path)
