"""Local image sources: a `.npz` array file or a folder of image files.

Both return `(images, labels)`: images `(N, H, W, C)` uint8 with C 1 or 3,
labels `(N,)` int32 or None. Colour input is brought to that form the same
way from either source: alpha is composited on white (as emoji64 was made),
16-bit values are scaled by 1/257, and a folder mixing greyscale and colour
images is loaded as RGB; each conversion is logged in one line.

NumPy and Pillow; TensorFlow only for 16-bit colour PNGs, which Pillow reads
as 8 bits by dropping the low byte.
"""

import concurrent.futures
import logging
import os
import typing
import zipfile
import zlib

import numpy as np

from kgan.errors import UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# What load_image_folder does at an unreadable file (`--on_bad_image`).
ON_BAD_IMAGE = ("skip", "stop")
_IMAGE_KEYS = ("images", "x_train", "x", "train_images", "arr_0", "data")
_LABEL_KEYS = ("labels", "y_train", "y", "train_labels", "arr_1")
_DEEP_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")  # Pillow's 16-bit (and 32-bit) grey
_GRAY_MODES = ("1", "L", "LA", "F", *_DEEP_MODES)
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "PA")
_CHANNELS = (1, 2, 3, 4)  # grey, grey + alpha, RGB, RGBA
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG16_COLOUR_TYPES = (2, 4, 6)  # RGB, grey + alpha, RGBA: Pillow keeps their high byte only
_COMPOSITE_CHUNK = 1024  # images composited at a time, to bound the float32 copy
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first member, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def to_uint8_images(array, where):
    """Converts an image array of any usual layout, range and depth to NHWC uint8.

    Args:
        array: `(N, H, W)`, `(N, H, W, C)` or `(N, C, H, W)` with C 1 (grey),
            2 (grey + alpha), 3 (RGB) or 4 (RGBA); uint8, 16-bit integers
            (any integer array whose values exceed 255, up to 65535), or
            floats in [0, 1], [-1, 1] or [0, 255].
        where: the array's name in messages, e.g. `"faces.npz['images']"`.

    Returns:
        `(N, H, W, 1 or 3)` uint8: 16-bit values divided by 257 (65535 ->
        255), alpha composited on white as `rgb*alpha + 255*(1-alpha)`; both
        are logged in one line each.

    Raises:
        UserError: in one line naming `where`, for an array that is not a
            batch of images, another channel count, values that are not
            real numbers, NaN or infinite values, and integers beyond 16 bits.
    """
    array = np.asarray(array)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise UserError(f"{where} holds an array of shape {array.shape}, not a batch of images.")
    if array.shape[-1] not in _CHANNELS and array.shape[1] in _CHANNELS:
        array = np.transpose(array, (0, 2, 3, 1))
    if array.shape[-1] not in _CHANNELS:
        raise UserError(
            f"{where}: images of shape {array.shape[1:]} must have 1 (grey), 2 (grey + alpha), "
            "3 (RGB) or 4 (RGBA) channels, last or first."
        )
    if array.dtype != np.uint8:
        array = _to_0_255(array, where)
    if array.shape[-1] in (2, 4):
        array = _composite_on_white(array)
        kind = "RGBA" if array.shape[-1] == 3 else "grey + alpha"
        logging.info(
            "composited the %d %s images of %s on white (rgb*alpha + 255*(1-alpha))",
            len(array),
            kind,
            where,
        )
    if array.dtype == np.uint8:
        return array
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def _to_0_255(array, where):
    """float32 `array` on the scale of uint8 (0..255), from any real dtype and range."""
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
    if np.issubdtype(array.dtype, np.integer) and array.size:
        low, high = int(array.min()), int(array.max())
        if high > 65535:
            raise UserError(
                f"{where} holds integers up to {high}, beyond 16 bits; save 8-bit (0..255) "
                "or 16-bit (0..65535) images, or floats in [0, 1]."
            )
        if low >= 0 and high > 255:
            # 16-bit samples: 257 maps 65535 onto 255 exactly (a clip would saturate).
            logging.info(
                "%s holds 16-bit values (up to %d): scaled to 8 bits as value/257", where, high
            )
            return array.astype(np.float32) / 257.0
    array = array.astype(np.float32)
    if not array.size:
        return array
    low, high = float(array.min()), float(array.max())
    if low >= -1.0 and high <= 1.0 and low < 0:
        array = (array + 1.0) * 127.5
    elif low >= 0 and high <= 1.0:
        array = array * 255.0
    return array


def _composite_on_white(images):
    """Composites grey+alpha or RGBA images on a white background.

    The formula emoji64 was made with: `rgb*alpha + 255*(1-alpha)`, alpha in
    [0, 1], rounded to the nearest integer.

    Args:
        images: `(N, H, W, 2 or 4)`, uint8 or floats on the 0..255 scale,
            alpha last.

    Returns:
        `(N, H, W, 1 or 3)` uint8.
    """
    result = np.empty(images.shape[:-1] + (images.shape[-1] - 1,), np.uint8)
    for start in range(0, len(images), _COMPOSITE_CHUNK):
        chunk = images[start : start + _COMPOSITE_CHUNK].astype(np.float32)
        alpha = chunk[..., -1:]
        # Over 255 at the end: uint8 inputs stay exact integers until then.
        blended = (chunk[..., :-1] * alpha + 255.0 * (255.0 - alpha)) / 255.0
        result[start : start + len(chunk)] = np.clip(np.rint(blended), 0, 255)
    return result


def load_npz(path):
    """Loads images (and labels, if present) from a `.npz` file.

    The images are the array under the first of `images`, `x_train`, `x`,
    `train_images`, `arr_0`, `data` that exists, or the file's only array;
    labels likewise from `labels`, `y_train`, `y`, ....

    Returns:
        `(images, labels, label_problem)`: labels are None where the file has
        none or has unusable ones, and `label_problem` then says in one line
        what is wrong with them (None where all is well or there are none).

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
    labels = problem = None
    if label_key is not None:
        labels, problem = _to_labels(arrays[label_key], len(images), f"{path}['{label_key}']")
    if problem:
        logging.info("%s; training unlabelled", problem)
    return images, labels, problem


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
    """`(labels, problem)`: class labels `(count,)` int32 from `array`, or None and why not.

    Labels that cannot be used (not one per image, e.g. one-hot rows; a
    negative value other than -1, the pipeline's "no label") are dropped,
    so an unconditional run trains unlabelled; `problem` says why in one
    line, for a conditional run to refuse with.
    """
    array = np.asarray(array).reshape(-1)
    if len(array) != count:
        return None, f"{where} holds {len(array)} labels for {count} images"
    whole = np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_
    if np.issubdtype(array.dtype, np.floating):
        whole = bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))
    if not whole:
        kind = "text" if array.dtype.kind in "US" else array.dtype.name
        raise UserError(
            f"{where} holds {kind} labels that are not all whole numbers; save integer "
            "class labels 0..K-1 under 'labels', or remove them to train unlabelled."
        )
    if len(array) and array.min() < -1:
        return None, (
            f"{where} holds the label {int(array.min())}; labels are 0..K-1, "
            "or -1 for an image without one"
        )
    return array.astype(np.int32), None


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


class _Header(typing.NamedTuple):
    """What the first pass over a folder learns of one image file."""

    size: tuple  # (width, height)
    colour: bool  # not greyscale: the whole folder is then loaded as RGB
    alpha: bool  # has transparency: composited on white
    deep: str | None  # 16-bit samples: "png16" (decoded by TF) or "pillow" (mode I;16, I)


def _png_bit_depth(path):
    """`(bit depth, colour type)` from a PNG file's IHDR chunk, or None for other files."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _read_header(path):
    """The `_Header` of image file `path`, read without decoding its pixels."""
    from PIL import Image

    with Image.open(path) as image:
        mode, size = image.mode, image.size
        alpha = mode in _ALPHA_MODES or "transparency" in image.info
        palette = image.getpalette() if mode in ("P", "PA") else None
    grey = mode in _GRAY_MODES or (
        palette is not None and palette[0::3] == palette[1::3] == palette[2::3]
    )
    png = _png_bit_depth(path)
    if png is not None and png[0] == 16 and png[1] in _PNG16_COLOUR_TYPES:
        return _Header(size, colour=png[1] != 4, alpha=png[1] in (4, 6), deep="png16")
    return _Header(size, not grey, alpha, "pillow" if mode in _DEEP_MODES else None)


def _read_png16(path):
    """The uint16 pixels `(H, W, C)` of a 16-bit PNG, every bit kept."""
    import tensorflow as tf

    try:
        pixels = tf.io.decode_png(tf.io.read_file(path), channels=0, dtype=tf.uint16)
    except tf.errors.OpError as e:
        raise OSError(e.message) from None
    return pixels.numpy()


def _decode(path, size, mode, header):
    """Image file `path` as a `(size, size)` or `(size, size, 3)` uint8 array.

    `mode` is the folder's: `"L"` or `"RGB"`. Alpha is composited on white
    and 16-bit samples divided by 257 before any resize.
    """
    from PIL import Image, ImageOps

    if header.deep == "png16":
        pixels = _read_png16(path).astype(np.float32) / 257.0
    else:
        with Image.open(path) as image:
            image.load()
            if header.deep:
                samples = np.asarray(image)
                pixels = samples.astype(np.float32)[..., None] / 257.0
                key = image.info.get("transparency")
                if isinstance(key, int):  # one transparent grey value (tRNS): white
                    pixels[samples == key] = 255.0
            elif header.alpha:
                # Through RGBA: Pillow converts every mode with transparency to it.
                pixels = np.asarray(image.convert("RGBA"))
                if not header.colour:
                    pixels = pixels[..., [0, 3]]  # grey: R = G = B
            else:
                image = image.convert(mode)
                pixels = None
    if pixels is not None:
        if pixels.shape[-1] in (2, 4):
            pixels = _composite_on_white(pixels[None])[0]
        pixels = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
        if mode == "RGB" and pixels.shape[-1] == 1:
            pixels = np.repeat(pixels, 3, axis=-1)
        image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels)
    if image.size != (size, size):
        # Centre-crop to a square, then resize: faces and digits stay centred.
        image = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8)


def load_image_folder(folder, image_size=0, on_bad_image="skip"):
    """Loads a folder (searched recursively) of image files into memory.

    Every file is brought to the folder's one channel count: greyscale when
    all images are (greyscale palettes included), else RGB, greyscale images
    then copied to three channels. Transparency (RGBA, LA, palettes with a
    transparent entry) is composited on white, and 16-bit PNGs and TIFFs are
    scaled to 8 bits (value/257). Each conversion is logged in one line
    with its count.

    Args:
        folder: the folder; first-level subfolders, if all images lie in
            them, become integer class labels in sorted order.
        image_size: side of the square images to return; 0 takes the size of
            the images, which must then all be the same square size.
        on_bad_image: `"skip"` unreadable or truncated files with one warning
            counting them, or `"stop"` with an error naming the first.

    Returns:
        `(images, labels)`: images `(N, H, W, 1 or 3)` uint8 in sorted file
        order, labels `(N,)` int32 or None.

    Raises:
        UserError: in one line, for a folder without image files, images of
            several sizes without `image_size`, no readable image, or (with
            `on_bad_image="stop"`) a file that cannot be read.
    """
    from PIL import UnidentifiedImageError

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
            headers[path] = _read_header(path)
        except errors:
            headers[path] = None
    mode = "RGB" if any(h is not None and h.colour for h in headers.values()) else "L"
    size = image_size
    if not size:
        sizes = {h.size for h in headers.values() if h is not None}
        if len(sizes) != 1 or len({*next(iter(sizes))}) != 1:
            raise UserError(
                f"the images in {folder} are not all one square size ({sorted(sizes)[:3]}...); "
                "pass --image_size to crop and resize them."
            )
        size = next(iter(sizes))[0]
    if any(h is not None and h.deep == "png16" for h in headers.values()):
        import tensorflow  # noqa: F401  (once here, not in each decoding thread)

    def decode(path):
        if headers[path] is None:
            return path, None
        try:
            return path, _decode(path, size, mode, headers[path])
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
    _log_conversions(folder, mode, [headers[path] for path, _ in good])
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


def _log_conversions(folder, mode, headers):
    """One log line for each conversion the images of `folder` went through."""
    composited = sum(h.alpha for h in headers)
    if composited:
        logging.info(
            "composited %d RGBA/LA images of %s on white (rgb*alpha + 255*(1-alpha))",
            composited,
            folder,
        )
    deep = sum(h.deep is not None for h in headers)
    if deep:
        logging.info("scaled %d 16-bit images of %s to 8 bits as value/257", deep, folder)
    grey = sum(not h.colour for h in headers)
    if mode == "RGB" and grey:
        logging.warning(
            "%s mixes greyscale and colour images: loaded its %d greyscale images as RGB "
            "(grey copied to 3 channels) beside its %d colour ones",
            folder,
            grey,
            len(headers) - grey,
        )
