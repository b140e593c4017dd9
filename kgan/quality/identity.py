"""Recognisability: the share of samples that draw one particular thing of the dataset.

The dataset classifier behind FCD knows coarse classes (emoji64: ten Unicode
categories), so it rewards the right colours in the right places and cannot
tell a crisp emoji from a smear in a face's colours. A dataset that says, per
image, *which particular thing* it draws (emoji64's `emoji` key: 1,911 emoji,
the two vendors' drawings and every skin tone of one emoji sharing an index)
allows a stricter judge:

- an **identity classifier** learns to tell those things apart, from half the
  images of each (the other half, mostly the other vendor's drawing, is held
  out), plus one **reject class** of real images made unrecognisable
  (blurred, cut into shuffled patches, or two blended), so that a smear or a
  jumble of the right parts is called what a person calls it;
- a sample is **recognisable** when the classifier gives one identity at
  least `CONFIDENCE` of its probability; `recognisable` is that share of the
  samples, and held-out real images score the ceiling (`floor`);
- `identities` counts the distinct identities among the recognisable
  samples: a generator that repeats three emoji is seen doing so.

The classifier trains once per dataset (10 to 40 minutes for emoji64's 3,786
training images on 2 CPU cores) and is cached beside the dataset classifier,
under `<cache>/identity/<key>/`.

    from kgan.quality.identity import IdentityJudge

    judge = IdentityJudge.from_dataset("../shared/data/emoji64/emoji64.npz", "emoji")
    judge.score_images(images)   # {"recognisable": ..., "identities": ..., ...}
    judge.floor()                # the same for held-out real images
"""

import dataclasses
import hashlib
import logging
import os
import re

import numpy as np

from kgan.errors import UserError
from kgan.quality.classifier import (
    BATCH_SIZE,
    FEATURE_DIM,
    LEARNING_RATE,
    classifier_head,
    default_cache_dir,
    fit_classifier,
    load_cached,
    predict_batches,
    traced,
    write_cached,
)
from kgan.quality.data import to_float

RECIPE_VERSION = 2  # bump when the architecture, the reject set or the training changes
SPLIT_SEED = 0
CONFIDENCE = 0.5  # the top identity's probability that makes a sample recognisable
EPOCHS = 60  # batches, learning rate and head: those of kgan.quality.classifier
REJECT_FRACTION = 0.5  # reject-class images, as a share of the training images
KEYS = ("recognisable", "identities", "rejected")


@dataclasses.dataclass
class IdentityData:
    """A dataset's images with one identity each, split half and half per identity.

    Attributes:
        name: the dataset, for messages and the cache key.
        key: the `.npz` key the identities came from.
        num_identities: how many identities (`0..num_identities-1`).
        train_images, train_ids: the classifier's half (every identity has at
            least one image here).
        held_out_images, held_out_ids: the other half (identities with one
            image have none here).
    """

    name: str
    key: str
    num_identities: int
    train_images: np.ndarray
    train_ids: np.ndarray
    held_out_images: np.ndarray
    held_out_ids: np.ndarray

    @property
    def image_shape(self):
        return tuple(self.train_images.shape[1:])


def split_by_identity(name, key, images, ids):
    """Per identity, its images shuffled (seed 0) and `floor(n / 2)` held out."""
    ids = np.asarray(ids).astype(np.int64)
    rng = np.random.default_rng(SPLIT_SEED)
    held_out, train = [], []
    for identity in range(int(ids.max()) + 1):
        members = rng.permutation(np.flatnonzero(ids == identity))
        half = len(members) // 2
        held_out.append(members[:half])
        train.append(members[half:])
    held_out, train = np.concatenate(held_out), np.concatenate(train)
    return IdentityData(
        name=name,
        key=key,
        num_identities=int(ids.max()) + 1,
        train_images=images[train],
        train_ids=ids[train],
        held_out_images=images[held_out],
        held_out_ids=ids[held_out],
    )


def load_identity_data(dataset, key, image_size=0):
    """Reads the images of an `.npz` dataset and its per-image identities `dataset[key]`.

    Raises:
        UserError: not an `.npz` file, no such key, or identities that do not
            fit the images (another count, a value below 0).
    """
    from kgan.data import load_source

    path = os.path.expanduser(dataset)
    if not path.endswith(".npz") or not os.path.isfile(path):
        raise UserError(
            f"--identity_key needs an .npz dataset holding one identity per image; "
            f"--dataset={dataset} is not an .npz file."
        )
    with np.load(path, allow_pickle=False) as arrays:
        if key not in arrays.files:
            raise UserError(
                f"--identity_key={key}: {path} has no array {key!r} "
                f"(it has {', '.join(sorted(arrays.files))})."
            )
        ids = np.asarray(arrays[key])
    images, _ = load_source(path, image_size=image_size).take()
    if ids.shape != (len(images),) or not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0:
        raise UserError(
            f"--identity_key={key}: {path}[{key!r}] must hold one integer 0..N-1 per image "
            f"({len(images)} images); it holds {ids.dtype} of shape {ids.shape}."
        )
    return split_by_identity(path, key, images, ids)


def blur(image, sigma_y, sigma_x):
    """An `(H, W, C)` float image blurred by a Gaussian, edges repeated."""
    for axis, sigma in ((0, sigma_y), (1, sigma_x)):
        radius = int(np.ceil(3 * sigma))
        taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
        taps /= taps.sum()
        pad = [(0, 0)] * image.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(image, pad, mode="edge")
        length = image.shape[axis]
        image = sum(
            weight * np.take(padded, np.arange(k, k + length), axis=axis)
            for k, weight in enumerate(taps)
        )
    return image


def unrecognisable(images, rng):
    """Real images made unrecognisable, the reject class's examples (uint8 in and out).

    Each image gets one of the ways a generator's samples fail to draw
    anything, at random: blurred (Gaussian, sigma 2-5 pixels per axis: an
    underfit generator's smear), cut into a 4x4 grid of patches put back in
    shuffled order (the right parts, no layout), blended half and half with
    another image (two modes averaged), overlaid with stripes or a
    checkerboard of 1-3 pixels over a lighter blur (transposed-convolution
    artefacts on a smear), or
    reduced to blocks of 8x8 pixels (shapeless blobs); then noise of up to
    12 grey levels.
    """
    images = np.asarray(images)
    size, channels = images.shape[1], images.shape[-1]
    grid = 4 if size % 4 == 0 else 1
    cell = size // grid
    block = 8 if size % 8 == 0 and size >= 32 else 1
    kinds = [0, 2, 3] + ([1] if grid > 1 else []) + ([4] if block > 1 else [])
    rows, cols = np.mgrid[0:size, 0:size]
    out = np.empty_like(images)
    for i, image in enumerate(images.astype(np.float32)):
        kind = rng.choice(kinds)
        if kind == 0:
            image = blur(image, rng.uniform(2, 5), rng.uniform(2, 5))
        elif kind == 1:
            patches = image.reshape(grid, cell, grid, cell, channels).swapaxes(1, 2)
            patches = patches.reshape(grid * grid, cell, cell, channels)[rng.permutation(grid**2)]
            image = patches.reshape(grid, grid, cell, cell, channels).swapaxes(1, 2)
            image = image.reshape(size, size, channels)
        elif kind == 2:
            other = images[rng.integers(len(images))].astype(np.float32)
            image = blur(0.5 * image + 0.5 * other, 1.5, 1.5)
        elif kind == 3:
            # Artefacts over a smear: on a clean image they leave it recognisable.
            image = blur(image, rng.uniform(1.5, 3), rng.uniform(1.5, 3))
            period = rng.integers(2, 4)
            pattern = [cols, rows, rows + cols][rng.integers(3)] % period < period / 2
            colour = rng.choice([-1.0, 1.0], channels) * rng.uniform(40, 100, channels)
            image = image + pattern[..., None] * colour
        else:
            blocks = image.reshape(size // block, block, size // block, block, channels)
            image = np.repeat(np.repeat(blocks.mean(axis=(1, 3)), block, 0), block, 1)
        image = image + rng.normal(0.0, rng.uniform(0, 12), image.shape)
        out[i] = np.clip(np.round(image), 0, 255).astype(images.dtype)
    return out


def build_identity_classifier(image_shape, num_outputs, name="identity"):
    """Flip and shift augmentation, four conv blocks, 128 ReLU features, logits.

    Blocks of 32, 64 and 128 filters with 2x2 max-pooling, then a fourth of
    128 without; flatten, dropout 0.3, the `{name}_features` layer, dropout
    0.3, `num_outputs` logits. The augmentation (horizontal flip, shifts of
    up to 10%, edges repeated) is active in training only.
    """
    import keras
    from keras import layers

    images = keras.Input(image_shape, name=f"{name}_images")
    x = layers.RandomFlip("horizontal", name=f"{name}_flip")(images)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", name=f"{name}_shift")(x)
    for block, width in enumerate((32, 64, 128, 128), start=1):
        x = layers.Conv2D(
            width, 3, padding="same", activation="relu", name=f"{name}_block{block}_conv"
        )(x)
        if block < 4:
            x = layers.MaxPooling2D(2, name=f"{name}_block{block}_pool")(x)
    logits = classifier_head(x, num_outputs, name)
    return keras.Model(images, logits, name=name)


class IdentityJudge:
    """Says which samples draw one identity of the dataset with confidence.

    Args:
        model: the trained `build_identity_classifier` model, whose last
            output is the reject class.
        data: its `IdentityData`.
        info: what training recorded (accuracy, timing).
        confidence: the top identity probability that counts as recognisable.
    """

    def __init__(self, model, data, info, confidence=CONFIDENCE):
        import keras

        self.model = model
        self.data = data
        self.info = dict(info)
        self.confidence = float(confidence)
        self._forward = traced(keras.Model(model.inputs[0], keras.ops.softmax(model.outputs[0])))

    @classmethod
    def from_dataset(cls, dataset, key, image_size=0, cache_dir=None, epochs=EPOCHS):
        """Loads the identities of `dataset[key]` and loads (or trains once) the classifier."""
        data = load_identity_data(dataset, key, image_size)
        return load_or_train(data, cache_dir, epochs)

    def probabilities(self, images):
        """`(N, num_identities + 1)` probabilities of `(N, H, W, C)` images in [-1, 1]."""
        (probabilities,) = predict_batches(self._forward, images)
        return probabilities

    def score_images(self, images):
        """Scores images in [-1, 1].

        Returns:
            A dict: `recognisable` (share with one identity at
            `confidence` or more), `identities` (distinct identities among
            them) and `rejected` (share whose most likely class is the reject
            class).
        """
        probabilities = self.probabilities(np.asarray(images, np.float32))
        return score_probabilities(probabilities, self.confidence)

    def floor(self):
        """The same scores for held-out real images: the ceiling a generator can reach."""
        return self.score_images(to_float(self.data.held_out_images))


def score_probabilities(probabilities, confidence=CONFIDENCE):
    """`recognisable`, `identities` and `rejected` of classifier probabilities.

    Args:
        probabilities: `(N, K + 1)`, the last column the reject class.
        confidence: the top identity probability that counts.
    """
    probabilities = np.asarray(probabilities)
    identities = probabilities[:, :-1]
    top = identities.max(axis=1)
    recognisable = top >= confidence
    return {
        "recognisable": float(recognisable.mean()),
        "identities": int(len(np.unique(identities.argmax(axis=1)[recognisable]))),
        "rejected": float(np.mean(probabilities.argmax(axis=1) == identities.shape[1])),
    }


def train(data, epochs=EPOCHS, seed=0):
    """Trains the identity classifier on `data`'s training half and its reject set.

    Returns:
        `(model, info)`; `info` holds the held-out accuracy and recognisable
        share, the image counts and the training seconds.
    """
    import keras

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed + 1)
    count = max(1, int(len(data.train_images) * REJECT_FRACTION))
    chosen = rng.permutation(len(data.train_images))[:count]
    rejects = unrecognisable(data.train_images[chosen], rng)
    images = np.concatenate([data.train_images, rejects])
    labels = np.concatenate([data.train_ids, np.full(count, data.num_identities)])
    model = build_identity_classifier(data.image_shape, data.num_identities + 1)
    seconds = fit_classifier(model, images, labels, epochs)
    judge = IdentityJudge(model, data, {})
    held_out = judge.probabilities(to_float(data.held_out_images))
    info = {
        "dataset": data.name,
        "key": data.key,
        "identities": data.num_identities,
        "train_images": int(len(data.train_images)),
        "reject_images": int(count),
        "held_out_images": int(len(data.held_out_images)),
        "accuracy": float(np.mean(held_out[:, :-1].argmax(axis=1) == data.held_out_ids)),
        "held_out_recognisable": score_probabilities(held_out)["recognisable"],
        "epochs": int(epochs),
        "train_seconds": round(seconds, 1),
        "recipe_version": RECIPE_VERSION,
    }
    return model, info


def cache_key(data, epochs):
    """`<dataset name>-<key>-<hash>`: the hash covers the split and the recipe."""
    digest = hashlib.sha256()
    recipe = (RECIPE_VERSION, FEATURE_DIM, BATCH_SIZE, LEARNING_RATE, REJECT_FRACTION, epochs)
    digest.update(repr((recipe, data.image_shape)).encode())
    for array in (data.train_images, data.train_ids, data.held_out_images):
        digest.update(np.ascontiguousarray(array).tobytes())
    base = os.path.basename(os.path.normpath(data.name)) or "dataset"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{base}-{data.key}")[:48]
    return f"{slug}-{digest.hexdigest()[:16]}"


def load_or_train(data, cache_dir=None, epochs=EPOCHS):
    """The `IdentityJudge` of `data`, from the cache or trained (and cached) now."""
    folder = os.path.join(cache_dir or default_cache_dir(), "identity", cache_key(data, epochs))
    cached = load_cached(folder)
    if cached is not None:
        return IdentityJudge(cached[0], data, cached[1])
    logging.info(
        "training the identity classifier of %s[%r] once (%d identities, %d images, %d epochs); "
        "it is cached in %s",
        data.name,
        data.key,
        data.num_identities,
        len(data.train_images),
        epochs,
        folder,
    )
    model, info = train(data, epochs)
    logging.info(
        "identity classifier: %.1f%% accuracy, %.1f%% recognisable on %d held-out images, "
        "trained in %.0f s",
        100 * info["accuracy"],
        100 * info["held_out_recognisable"],
        info["held_out_images"],
        info["train_seconds"],
    )
    write_cached(folder, model, info, "identity classifier")
    return IdentityJudge(model, data, info)
