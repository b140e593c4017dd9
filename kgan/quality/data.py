"""The real images an evaluation needs, split once and for all per dataset.

Three disjoint parts of a dataset:

- `train`: the labelled images the classifier learns from;
- `reference`: held-out images whose statistics every sample is compared to;
- `floor`: other held-out images, scored against the reference exactly as
  a generator's samples are: the best any generator can be expected to do.

With a train and a test split (TFDS, an IDX folder holding both `train-*`
and `t10k-*` files), the classifier trains on the train split and the test
split is halved into reference and floor. With one split only (for example
an IDX folder holding just the 10k `t10k-*` files, or an `.npz` file), a
fixed permutation (seed 0, the same for every run) gives 60% to training and
20% each to reference and floor: for MNIST t10k, 6000 / 2000 / 2000.
Unlabelled datasets (an image folder without class subfolders) have no
classifier, so they are split into reference and floor halves only.
Reference and floor hold at most 5000 images each.
"""

import dataclasses
import os

import numpy as np

from kgan.data import ArraySource, is_local, load_source
from kgan.data.idx import find_idx_files, load_idx_folder
from kgan.errors import UserError

SPLIT_SEED = 0  # fixed: the split, and so the cached classifier, never change
TRAIN_FRACTION = 0.6
MAX_HELD_OUT = 5000  # per part (reference, floor)
MAX_TRAIN = 60000


@dataclasses.dataclass
class EvalData:
    """Real images of one dataset, split for evaluation (uint8, `(N, H, W, C)`).

    `train_*` are None for an unlabelled dataset; `*_labels` are None where
    the dataset has no labels.
    """

    name: str
    image_shape: tuple
    num_classes: int | None
    split: str  # one line saying how the parts were made
    reference_images: np.ndarray
    floor_images: np.ndarray
    train_images: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    reference_labels: np.ndarray | None = None
    floor_labels: np.ndarray | None = None

    @property
    def labelled(self):
        return self.num_classes is not None and self.train_labels is not None

    @property
    def held_out_images(self):
        """Reference and floor together: images the classifier never saw."""
        return np.concatenate([self.reference_images, self.floor_images])

    @property
    def held_out_labels(self):
        if self.reference_labels is None:
            return None
        return np.concatenate([self.reference_labels, self.floor_labels])


def to_float(images):
    """uint8 `(N, H, W, C)` -> float32 in [-1, 1], the generator contract's range."""
    return np.asarray(images, dtype=np.float32) / 127.5 - 1.0


def load_eval_data(dataset, data_dir=None, image_size=0):
    """Loads and splits the real images of `--dataset` for evaluation.

    Args:
        dataset: a TFDS name or a local IDX folder, `.npz` file or image
            folder, as for training.
        data_dir: TFDS data folder.
        image_size: side of the square images; 0 keeps the dataset's own.

    Returns:
        An `EvalData`.

    Raises:
        UserError: for anything `kgan.data.load_source` rejects, and for a
            dataset too small to split.
    """
    if is_local(dataset):
        path = os.path.expanduser(dataset)
        splits = find_idx_files(path) if os.path.isdir(path) else {}
        if "train" in splits and "t10k" in splits:
            train = ArraySource(path, *load_idx_folder(path, "train"), image_size=image_size)
            size = train.image_shape[0]
            test = ArraySource(path, *load_idx_folder(path, "test"), image_size=size)
            return _from_two_splits(path, train.take(), test.take())
        source = load_source(path, image_size=image_size)
        return _from_one_split(path, *source.take())
    return _from_tfds(dataset, data_dir, image_size)


def _split_note(train, reference, floor, how):
    return f"{how}: classifier {train}, reference {reference}, floor {floor} images"


def _from_two_splits(name, train, test):
    """EvalData of `(images, labels)` train and test splits, both at their final size."""
    (train_images, train_labels), (test_images, test_labels) = train, test
    size = test_images.shape[1]
    rng = np.random.default_rng(SPLIT_SEED)
    order = rng.permutation(len(train_images))[:MAX_TRAIN]
    train_images = train_images[order]
    train_labels = None if train_labels is None else train_labels[order]
    test_order = rng.permutation(len(test_images))
    half = min(len(test_images) // 2, MAX_HELD_OUT)
    reference, floor = test_order[:half], test_order[half : 2 * half]
    labelled = train_labels is not None and test_labels is not None
    how = "train split / test split halved"
    split = _split_note(len(train_images), half, half, how)
    if not labelled:
        split = f"test split halved, no labels: reference {half}, floor {half} images"
    data = EvalData(
        name=name,
        image_shape=(size, size, test_images.shape[-1]),
        num_classes=int(train_labels.max()) + 1 if labelled else None,
        split=split,
        reference_images=test_images[reference],
        floor_images=test_images[floor],
    )
    if labelled:
        data.train_images, data.train_labels = train_images, train_labels
        data.reference_labels, data.floor_labels = test_labels[reference], test_labels[floor]
    return _checked(data)


def _from_one_split(name, images, labels):
    """EvalData of one split's `images` (at their final size) and labels (or None)."""
    size = images.shape[1]
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    image_shape = (size, size, images.shape[-1])
    held_out = min(int(round(len(images) * (1 - TRAIN_FRACTION) / 2)), MAX_HELD_OUT)
    reference, floor = order[:held_out], order[held_out : 2 * held_out]
    train = order[2 * held_out :][:MAX_TRAIN]
    if labels is None:
        # The label-free feature extractor (kgan.quality.ssl) trains on the first part.
        return _checked(
            EvalData(
                name=name,
                image_shape=image_shape,
                num_classes=None,
                split=_split_note(len(train), held_out, held_out, "one unlabelled split").replace(
                    "classifier", "feature extractor"
                ),
                reference_images=images[reference],
                floor_images=images[floor],
                train_images=images[train],
            )
        )
    return _checked(
        EvalData(
            name=name,
            image_shape=image_shape,
            num_classes=int(labels.max()) + 1,
            split=_split_note(len(train), held_out, held_out, "one split, fixed permutation"),
            reference_images=images[reference],
            floor_images=images[floor],
            train_images=images[train],
            train_labels=labels[train],
            reference_labels=labels[reference],
            floor_labels=labels[floor],
        )
    )


def _from_tfds(name, data_dir, image_size):
    train_source = load_source(name, data_dir, image_size, split="train")
    try:
        test_source = load_source(name, data_dir, image_size, split="test")
    except (ValueError, KeyError):  # no test split: split the train split
        test_source = None
    if test_source is None:
        return _from_one_split(name, *train_source.take(MAX_TRAIN + 2 * MAX_HELD_OUT))
    test_images, test_labels = test_source.take(2 * MAX_HELD_OUT)
    if train_source.num_classes is None:
        # No classifier: the training split is not needed at all.
        empty = np.zeros((0, *test_images.shape[1:]), np.uint8)
        return _from_two_splits(name, (empty, None), (test_images, None))
    return _from_two_splits(name, train_source.take(MAX_TRAIN), (test_images, test_labels))


def _checked(data):
    if len(data.reference_images) < 10:
        raise UserError(
            f"--dataset={data.name} holds too few images to evaluate against "
            f"({len(data.reference_images)} per held-out part); give at least 50 images."
        )
    return data
