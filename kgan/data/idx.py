"""Readers for the IDX format of MNIST and Fashion-MNIST (LeCun et al.).

An IDX file is a big-endian header (two zero bytes, a type code, the number
of dimensions, one uint32 per dimension) followed by the raw array. Files may
be gzip-compressed. Pure NumPy: no TensorFlow needed.
"""

import gzip
import os
import re

import numpy as np

from kgan.errors import UserError

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
# train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte, ...
_NAME = re.compile(r"^(?P<split>.+)-(?P<kind>images|labels)-idx(?P<ndim>\d)-ubyte(\.gz)?$")


def read_idx(path):
    """Reads one IDX file (optionally gzipped) into a NumPy array.

    Raises:
        UserError: if the file is truncated, not IDX, or not gzip as named.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise UserError(f"{path} cannot be read ({e}); download it again.") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise UserError(f"{path} is not an IDX file (bad magic number); download it again.")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise UserError(f"{path} is truncated inside its header; download it again.")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(data) != expected:
        raise UserError(
            f"{path} holds {len(data)} bytes but its header {shape} needs {expected}; "
            "the file is truncated or corrupt, download it again."
        )
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def find_idx_files(folder):
    """Maps split name (`train`, `t10k`, ...) to `{"images": path, "labels": path}`."""
    found = {}
    for name in sorted(os.listdir(folder)):
        match = _NAME.match(name)
        if match:
            split = found.setdefault(match["split"], {})
            # Prefer the uncompressed file when both are present.
            if match["kind"] not in split or not name.endswith(".gz"):
                split[match["kind"]] = os.path.join(folder, name)
    return {split: files for split, files in found.items() if "images" in files}


def load_idx_folder(folder, split="train"):
    """Loads images `(N, H, W, 1)` uint8 and labels `(N,)` (or None) from a folder.

    Args:
        folder: holds `*-images-idx3-ubyte[.gz]` files and, optionally, the
            matching `*-labels-idx1-ubyte[.gz]`.
        split: `"train"` (the train files, else every split found), `"test"`
            (the t10k files) or `"all"` (every split, concatenated).

    Returns:
        `(images, labels)`; labels is None unless every split has labels.
    """
    splits = find_idx_files(folder)
    if not splits:
        raise UserError(
            f"--dataset={folder} holds no '*-images-idx3-ubyte[.gz]' IDX files; "
            "point it at an MNIST-format folder, a .npz file or a folder of images."
        )
    if split == "train" and "train" in splits:
        chosen = ["train"]
    elif split == "test" and "t10k" in splits:
        chosen = ["t10k"]
    else:
        chosen = sorted(splits)
    images, labels = [], []
    for name in chosen:
        array = read_idx(splits[name]["images"])
        if array.ndim == 3:
            array = array[..., None]
        if array.ndim != 4 or array.dtype != np.uint8:
            raise UserError(f"{splits[name]['images']} is not a uint8 image array.")
        images.append(array)
        if "labels" in splits[name]:
            label_array = read_idx(splits[name]["labels"])
            if label_array.shape != (len(array),):
                raise UserError(
                    f"{splits[name]['labels']} has {label_array.shape[0]} labels for "
                    f"{len(array)} images; the pair does not match."
                )
            labels.append(label_array.astype(np.int32))
    if len({a.shape[1:] for a in images}) > 1:
        raise UserError(f"the IDX files in {folder} hold images of different sizes.")
    all_labels = np.concatenate(labels) if len(labels) == len(images) else None
    return np.concatenate(images), all_labels
