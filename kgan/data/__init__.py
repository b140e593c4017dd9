"""Image data for kgan: one `--dataset` value, many sources, one pipeline.

`load_source` turns a TFDS name or a local path into an `ImageSource`
(`ArraySource` for local files, `TFDSSource` for TFDS); `make_dataset`
turns that into the training pipeline: scaled to the generator's output
range, shuffled with a seed per pass over the data, batched with
`drop_remainder`, repeated and prefetched. Batch `k` of the stream is a
function of the seed alone, so a resumed run can start the stream at the
step where the stopped one ended.

Example:

>>> source = load_source("../shared/data/mnist")
>>> dataset, steps = make_dataset(source, batch_size=128, seed=0)
"""

from kgan.data.load import is_local, load_source
from kgan.data.pipeline import epoch_steps, make_dataset
from kgan.data.sources import ArraySource, ImageSource
from kgan.data.tfds_source import TFDSSource
from kgan.data.transforms import resize_images, scale_images

__all__ = [
    "ArraySource",
    "ImageSource",
    "TFDSSource",
    "epoch_steps",
    "is_local",
    "load_source",
    "make_dataset",
    "resize_images",
    "scale_images",
]
