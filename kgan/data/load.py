"""`load_source`: one `--dataset` value (a TFDS name or a local path) to an `ImageSource`."""

import os

from kgan.data import tfds_source
from kgan.data.idx import find_idx_files, load_idx_folder
from kgan.data.local import load_image_folder, load_npz
from kgan.data.sources import ArraySource
from kgan.errors import UserError


def is_local(dataset):
    """True when `--dataset` names a path rather than a TFDS dataset."""
    return (
        os.path.exists(dataset)
        or os.sep in dataset
        or dataset.startswith((".", "~"))
        or dataset.endswith(".npz")
    )


def load_source(dataset, data_dir=None, image_size=0, split="train", on_bad_image="skip"):
    """Resolves `--dataset` into an `ImageSource`.

    Args:
        dataset: a TFDS name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`,
            ...) or a local path: a folder of MNIST-format IDX files, a `.npz`
            file holding an image array, or a folder of image files.
        data_dir: TFDS data folder, passed to `tfds.load`.
        image_size: side of the square images to train on; 0 keeps the
            source's own size.
        split: `"train"` or `"test"` (local IDX folders and TFDS).
        on_bad_image: image folders: `"skip"` or `"stop"` at unreadable files.

    Returns:
        An `ArraySource` for a local path, a `TFDSSource` for a TFDS name.

    Raises:
        UserError: for a missing path, a folder with nothing readable, an
            unknown TFDS name, or a TFDS download that cannot happen.

    Example:

    >>> source = load_source("../shared/data/mnist")
    >>> source.image_shape, source.num_examples
    ((28, 28, 1), 10000)
    """
    if is_local(dataset):
        return _load_local(os.path.expanduser(dataset), image_size, split, on_bad_image)
    return tfds_source.load_tfds(dataset, data_dir, image_size, split)


def _load_local(path, image_size, split, on_bad_image):
    if not os.path.exists(path):
        raise UserError(
            f"--dataset={path} does not exist; give an existing IDX folder, .npz file "
            "or image folder, or a TFDS name such as mnist."
        )
    label_problem = None
    if os.path.isdir(path) and find_idx_files(path):
        images, labels = load_idx_folder(path, split)
    elif os.path.isdir(path):
        images, labels = load_image_folder(path, image_size, on_bad_image)
    elif path.endswith(".npz"):
        images, labels, label_problem = load_npz(path)
    else:
        raise UserError(
            f"--dataset={path} is a file but not a .npz archive; give a .npz file, an "
            "MNIST IDX folder or a folder of images."
        )
    height, width = images.shape[1:3]
    if not image_size and height != width:
        raise UserError(f"{path} holds {height}x{width} images; pass --image_size to square them.")
    return ArraySource(path, images, labels, image_size, label_problem)
