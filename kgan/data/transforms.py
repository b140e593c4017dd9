"""What every image goes through on its way to a network: one resize, one scale.

`resize_images` is the one resize of kgan: training streams, the health
monitor's real sample and the evaluation splits all reach their size
through it, so a model is never scored on images resized another way than
it was trained on. (Image folders are decoded at their size by Pillow
instead: their files may each have another size.)
"""


def at_size(shape, size):
    """True when images of `shape` (`(..., H, W, C)`) are already `size` x `size`."""
    return shape[-3] == size and shape[-2] == size


def resize_images(images, size):
    """Centre-crops uint8 `images` (one or a batch) to a square and resizes them.

    Args:
        images: `(H, W, C)` or `(B, H, W, C)` uint8 images, any aspect ratio.
        size: the side of the square result.

    Returns:
        uint8 images `(..., size, size, C)` (antialiased, rounded, clipped);
        `images` itself when its static shape is square at `size` already.
    """
    if at_size(images.shape, size):
        return images
    import tensorflow as tf

    shape = tf.shape(images)
    height, width = shape[-3], shape[-2]
    side = tf.minimum(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    images = images[..., top : top + side, left : left + side, :]
    resized = tf.image.resize(images, (size, size), antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)


def scale_images(images, output="tanh"):
    """Maps uint8 images to the generator's range: [-1, 1] (tanh) or [0, 1]."""
    import tensorflow as tf

    images = tf.cast(images, tf.float32)
    if output == "sigmoid":
        return images / 255.0
    return images / 127.5 - 1.0
