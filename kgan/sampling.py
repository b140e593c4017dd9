"""Sampling from an exported generator: latents, truncation and latent walks.

Works on any SavedModel that meets the `serve` contract of `kgan.export`;
`kgan.saved_generator.SavedGenerator` reads the latent size and whether the
generator is class-conditional from the endpoint's input signature.

Example:

>>> generator = SavedGenerator("runs/kgan/generator")
>>> rng = np.random.default_rng(0)
>>> images = generator(sample_latents(rng, 16, generator.latent_dim))  # (16, H, W, C)
"""

import os

import numpy as np

from kgan.errors import UserError
from kgan.saved_generator import SavedGenerator


def sample_latents(rng, count, latent_dim, truncation=0.0):
    """Standard normal latents `(count, latent_dim)`, optionally truncated.

    Args:
        rng: a `numpy.random.Generator` (the seed makes samples repeatable).
        count: number of latents.
        latent_dim: size of each latent.
        truncation: if > 0, every component whose magnitude exceeds it is
            drawn again until none does (the truncation trick of Brock et al.
            2019: less variety, higher fidelity).
    """
    latents = rng.standard_normal((count, latent_dim)).astype(np.float32)
    if truncation > 0:
        outside = np.abs(latents) > truncation
        while outside.any():
            latents[outside] = rng.standard_normal(int(outside.sum()))
            outside = np.abs(latents) > truncation
    return latents


def slerp(start, end, t):
    """Spherical interpolation from `start` to `end` at fractions `t`.

    Follows the great circle between the two latents (White 2016), which
    keeps intermediate points at the typical norm of Gaussian latents where a
    straight line would cut through the low-density centre.

    Args:
        start, end: latents `(D,)`.
        t: fractions `(K,)` in [0, 1].

    Returns:
        `(K, D)` latents; `t = 0` gives `start`, `t = 1` gives `end`.
    """
    start = np.asarray(start, np.float64)
    end = np.asarray(end, np.float64)
    t = np.asarray(t, np.float64)[:, None]
    cosine = np.dot(start, end) / (np.linalg.norm(start) * np.linalg.norm(end))
    omega = np.arccos(np.clip(cosine, -1.0, 1.0))
    if np.sin(omega) < 1e-6:  # (anti)parallel: any great circle; fall back to a line
        return ((1.0 - t) * start + t * end).astype(np.float32)
    weights_start = np.sin((1.0 - t) * omega) / np.sin(omega)
    weights_end = np.sin(t * omega) / np.sin(omega)
    return (weights_start * start + weights_end * end).astype(np.float32)


def latent_walks(rng, num_walks, steps, latent_dim, truncation=0.0):
    """`num_walks` spherical walks of `steps` latents between random endpoints.

    Returns:
        `(num_walks, steps, latent_dim)` float32 latents.
    """
    if steps < 2:
        raise UserError(f"--interpolate={steps} must be at least 2 (the two endpoints).")
    ends = sample_latents(rng, 2 * num_walks, latent_dim, truncation)
    t = np.linspace(0.0, 1.0, steps)
    return np.stack([slerp(ends[2 * i], ends[2 * i + 1], t) for i in range(num_walks)])


def write_samples(
    generator_path,
    out,
    num=64,
    seed=0,
    separate=False,
    interpolate=0,
    truncation=0.0,
    label=None,
    num_classes=10,
):
    """Samples from an exported generator into PNG or GIF files.

    Args:
        generator_path: the generator SavedModel folder.
        out: `.png` or `.gif` file. A grid of all images, or with `separate`
            one file per image (per walk) named `<stem>_NNN<ext>`.
        num: images (or, with `interpolate`, walks) to draw.
        seed: seed of the latents: same seed, same pictures.
        separate: one file per image instead of one grid.
        interpolate: if >= 2, draw `num` spherical walks of this many steps
            between random latents: a PNG shows one walk per row, a GIF
            plays the walks forth and back, all tiled in one grid.
        truncation: if > 0, the truncation threshold (see `sample_latents`).
        label: class of every image for a conditional generator; None
            cycles through `num_classes` classes (one per grid column).
        num_classes: classes to cycle through when `label` is None.

    Returns:
        The list of files written.

    Raises:
        UserError: for a bad generator, output name or value.
    """
    from kgan.images import make_grid, save_gif, save_png, to_uint8

    stem, extension = os.path.splitext(out)
    extension = extension.lower()
    if extension not in (".png", ".gif"):
        raise UserError(f"--out={out} must end in .png or .gif.")
    if num < 1:
        raise UserError(f"--num={num} must be at least 1.")
    if truncation < 0:
        raise UserError(f"--truncation={truncation} must be > 0 (or 0 for none).")
    if interpolate < 0 or interpolate == 1:
        raise UserError(f"--interpolate={interpolate} must be 0 (off) or at least 2 steps.")
    if label is not None and label < 0:
        raise UserError(f"--label={label} must be a class index >= 0.")
    if num_classes < 1:
        raise UserError(f"--num_classes={num_classes} must be at least 1.")
    generator = SavedGenerator(generator_path)
    rng = np.random.default_rng(seed)

    labels, columns = None, None
    if generator.conditional:
        if label is not None:
            labels = np.full((num,), label, np.int32)
        else:
            labels = np.arange(num, dtype=np.int32) % num_classes
            columns = None if interpolate else min(num, num_classes)
    elif label is not None:
        raise UserError(f"--label={label} given, but {generator_path} is not class-conditional.")

    if interpolate:
        walks = latent_walks(rng, num, interpolate, generator.latent_dim, truncation)
        walk_labels = None if labels is None else np.repeat(labels, interpolate)
        images = generator(walks.reshape(num * interpolate, -1), walk_labels)
        images = to_uint8(images).reshape(num, interpolate, *images.shape[1:])
    else:
        latents = sample_latents(rng, num, generator.latent_dim, truncation)
        images = to_uint8(generator(latents, labels))

    # One picture per file: the grid of everything, or each image / walk alone.
    paths = [out] if not separate else [f"{stem}_{i:03d}{extension}" for i in range(num)]
    groups = [images] if not separate else [images[i : i + 1] for i in range(num)]
    for group, path in zip(groups, paths, strict=True):
        if not interpolate:
            picture = make_grid(group, columns=columns) if not separate else group[0]
            frames = [picture]
        elif extension == ".gif":
            # One frame per step, played forth and back so the loop is seamless.
            frames = [make_grid(group[:, step]) for step in range(interpolate)]
            frames += frames[-2:0:-1]
        else:
            # One walk per row.
            frames = [make_grid(group.reshape(-1, *group.shape[2:]), columns=interpolate)]
        if extension == ".gif":
            save_gif(frames, path, duration_ms=80)
        else:
            save_png(frames[0], path)
    return paths
