"""Local image sources: a `.npz` array file or a folder of image files.

Both return `(images, labels)`: images `(N, H, W, C)` uint8, labels `(N,)`
int32 or None. Pure NumPy and Pillow: no TensorFlow needed.
"""

import concurrent.futures
import logging
import os
import zipfile
import zlib

import numpy as np

from kgan.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
_IMAGE_KEYS = ("images", "x_train", "x", "train_images", "arr_0", "data")
_LABEL_KEYS = ("labels", "y_train", "y", "train_labels", "arr_1")
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def to_uint8_images(array, where):
    """Converts an image array of any usual layout and range to NHWC uint8.

    Accepts `(N, H, W)`, `(N, H, W, C)` and `(N, C, H, W)` with C in {1, 3},
    as uint8 or as floats in [0, 1], [-1, 1] or [0, 255].
    """
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise UserError(f"{where} holds an array of shape {array.shape}, not a batch of images.")
    if array.shape[-1] not in (1, 3) and array.shape[1] in (1, 3):
        array = np.transpose(array, (0, 2, 3, 1))
    if array.shape[-1] not in (1, 3):
        raise UserError(f"{where}: images of shape {array.shape[1:]} must have 1 or 3 channels.")
    if array.dtype == np.uint8:
        return array
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise UserError(
            f"{where} holds {array.dtype} values, not real numbers; save the images as uint8 "
            "or as floats in [0, 1], [-1, 1] or [0, 255]."
        )
    # Counted before the float32 cast, which would turn huge finite values into inf.
    bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
    if bad:
        raise UserError(
            f"{where} holds {bad} NaN or infinite values; drop or repair those images "
            "(e.g. numpy.nan_to_num) and save the file again."
        )
    array = array.astype(np.float32)
    low, high = float(array.min()), float(array.max())
    if low >= -1.0 and high <= 1.0 and low < 0:
        array = (array + 1.0) * 127.5
    elif low >= 0 and high <= 1.0:
        array = array * 255.0
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def load_npz(path):
    """Loads images (and labels, if present) from a `.npz` file.

    The images are the array under the first of `images`, `x_train`, `x`,
    `train_images`, `arr_0`, `data` that exists, or the file's only array;
    labels likewise from `labels`, `y_train`, `y`, ....

    Raises:
        UserError: in one line naming the file, for a file that is not a
            readable archive of `.npy` arrays, several arrays none of which has
            a known image key (which one is meant is not guessed), images that
            are not real numbers or hold NaN or infinite values, and labels
            that are not whole numbers.
    """
    arrays = _read_npz(path)
    image_key = next((k for k in _IMAGE_KEYS if k in arrays), None)
    shapes = ", ".join(f"{key} {tuple(array.shape)}" for key, array in arrays.items())
    if image_key is None and len(arrays) == 1 and next(iter(arrays.values())).ndim in (3, 4):
        image_key = next(iter(arrays))
    if image_key is None and len(arrays) > 1:
        raise UserError(
            f"--dataset={path} holds several arrays and none under a known image key "
            f"({shapes}); save the images under the key 'images' (and class labels under "
            "'labels'), e.g. numpy.savez(path, images=..., labels=...)."
        )
    if image_key is None:
        raise UserError(
            f"--dataset={path} holds no image array ({shapes or 'no arrays'}); save one under "
            "'images' with shape (N, H, W) or (N, H, W, C)."
        )
    images = to_uint8_images(arrays[image_key], f"{path}['{image_key}']")
    label_key = next((k for k in _LABEL_KEYS if k in arrays and k != image_key), None)
    labels = None
    if label_key is not None:
        labels = _to_labels(arrays[label_key], len(images), f"{path}['{label_key}']")
    return images, labels


def _read_npz(path):
    """Every array of the archive at `path`, by key; a one-line UserError if unreadable."""
    reason = None
    try:
        with open(path, "rb") as f:
            head = f.read(len(_NPY_MAGIC))
        if not head:
            reason = "it is empty"
        elif head.startswith(_NPY_MAGIC):
            reason = "it is a single .npy array"
        elif not head.startswith(_ZIP_MAGIC):
            reason = "it is not a zip archive"
        else:
            with np.load(path, allow_pickle=False) as archive:
                arrays = {key: archive[key] for key in archive.keys()}
            # numpy hands back the raw bytes of members that are not .npy files.
            others = [key for key, array in arrays.items() if not isinstance(array, np.ndarray)]
            if others:
                reason = f"its member {others[0]} is not a .npy array"
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    if reason is not None:
        raise UserError(
            f"--dataset={path} is not a readable .npz archive ({reason}); save the images "
            "with numpy.savez(path, images=..., labels=...)."
        )
    return arrays


def _to_labels(array, count, where):
    """Class labels `(count,)` int32 from `array`, or None if it holds another count."""
    array = np.asarray(array).reshape(-1)
    if len(array) != count:
        return None  # not one label per image (e.g. one-hot rows): train unlabelled
    whole = np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_
    if np.issubdtype(array.dtype, np.floating):
        whole = bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
    if not whole:
        kind = "text" if array.dtype.kind in "US" else array.dtype.name
        raise UserError(
            f"{where} holds {kind} labels that are not all whole numbers; save integer "
            "class labels 0..K-1 under 'labels', or remove them to train unlabelled."
        )
    return array.astype(np.int32)


def list_image_files(folder):
    """Returns every image file below `folder`, sorted, and class names.

    Class names are the first-level subfolders when every image lies in one
    (the `image_dataset_from_directory` layout); otherwise None.
    """
    files = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        files.extend(
            os.path.join(root, n) for n in sorted(names) if n.lower().endswith(IMAGE_EXTENSIONS)
        )
    tops = {os.path.relpath(f, folder).split(os.sep)[0] for f in files}
    in_subfolders = all(os.sep in os.path.relpath(f, folder) for f in files)
    classes = sorted(tops) if files and in_subfolders and len(tops) > 1 else None
    return files, classes


def _decode(path, size, mode):
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        image.load()
        image = image.convert(mode)
        if image.size != (size, size):
            # Centre-crop to a square, then resize: faces and digits stay centred.
            image = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
        return np.asarray(image, dtype=np.uint8)


def load_image_folder(folder, image_size=0, on_bad_image="skip"):
    """Loads a folder (searched recursively) of image files into memory.

    Args:
        folder: the folder; first-level subfolders, if all images lie in
            them, become integer class labels in sorted order.
        image_size: side of the square images to return; 0 takes the size of
            the images, which must then all be the same square size.
        on_bad_image: `"skip"` unreadable or truncated files with one warning
            counting them, or `"stop"` with an error naming the first.

    Returns:
        `(images, labels)`; grayscale folders give one channel, others three.
    """
    from PIL import Image, UnidentifiedImageError

    files, classes = list_image_files(folder)
    if not files:
        raise UserError(
            f"--dataset={folder} holds no image files ({', '.join(IMAGE_EXTENSIONS)}); "
            "point it at a folder of images, an MNIST IDX folder or a .npz file."
        )
    errors = (OSError, UnidentifiedImageError, ValueError, SyntaxError)
    headers = {}
    for path in files:
        try:
            with Image.open(path) as image:
                headers[path] = (image.mode, image.size)
        except errors:
            headers[path] = None
    mode = "L" if all(h is None or h[0] in _GRAY_MODES for h in headers.values()) else "RGB"
    size = image_size
    if not size:
        sizes = {h[1] for h in headers.values() if h is not None}
        if len(sizes) != 1 or len({*next(iter(sizes))}) != 1:
            raise UserError(
                f"the images in {folder} are not all one square size ({sorted(sizes)[:3]}...); "
                "pass --image_size to crop and resize them."
            )
        size = next(iter(sizes))[0]

    def decode(path):
        if headers[path] is None:
            return path, None
        try:
            return path, _decode(path, size, mode)
        except errors:
            return path, None

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        decoded = list(pool.map(decode, files))
    bad = [path for path, image in decoded if image is None]
    if bad and on_bad_image == "stop":
        raise UserError(
            f"{bad[0]} is not a readable image ({len(bad)} bad files in {folder}); "
            "remove it or pass --on_bad_image=skip."
        )
    if bad:
        logging.warning(
            "skipped %d unreadable or truncated image files in %s (first: %s)",
            len(bad),
            folder,
            bad[0],
        )
    good = [(path, image) for path, image in decoded if image is not None]
    if not good:
        raise UserError(f"none of the {len(files)} image files in {folder} could be read.")
    images = np.stack([image for _, image in good])
    if images.ndim == 3:
        images = images[..., None]
    labels = None
    if classes:
        index = {name: i for i, name in enumerate(classes)}
        labels = np.array(
            [index[os.path.relpath(p, folder).split(os.sep)[0]] for p, _ in good], np.int32
        )
    return images, labels
