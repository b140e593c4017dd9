"""Turning generator outputs into pictures: uint8 conversion, grids, PNGs."""

import math
import os

import numpy as np

from kgan.files import atomic_open


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
    with atomic_open(path, "wb") as f:
        Image.fromarray(image).save(f, format="PNG")


def gif_bytes(frames, duration_ms=100):
    """Encodes `(H, W, C)` uint8 frames as a looping animated GIF.

    Args:
        frames: equally sized uint8 images; C is 1 or 3.
        duration_ms: display time of each frame, or a list with one per frame.

    Returns:
        The GIF file's bytes.
    """
    import io

    from PIL import Image

    pictures = []
    for frame in frames:
        frame = np.asarray(frame)
        pictures.append(Image.fromarray(frame[..., 0] if frame.shape[-1] == 1 else frame))
    buffer = io.BytesIO()
    pictures[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=pictures[1:],
        duration=duration_ms,
        loop=0,
    )
    return buffer.getvalue()


def save_gif(frames, path, duration_ms=100):
    """Writes frames (see `gif_bytes`) to `path` as an animated GIF, atomically."""
    data = gif_bytes(frames, duration_ms)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as f:
        f.write(data)
    os.replace(temporary, path)
