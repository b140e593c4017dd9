"""Class-conditional GAN (Mirza and Osindero 2014) as a kgan subclass.

"If you have labels, use them": both networks see the class label. The
networks already take it (`build_networks(..., num_classes)`: G embeds the
label into the latent vector, D reads it as an extra image channel), and
`train(..., conditional=True)` feeds `(images, labels)` batches, so the whole
method change is one override: `unpack` keeps the labels as conditions.

    python -m examples.cgan --dataset=../shared/data/mnist --epochs=10 --out_dir=runs/cgan
    python sample.py --generator=runs/cgan/generator --label=3 --out=threes.png

takes every flag of `train.py`; the sample grids default to 100 images, so
each of the ten columns is one class.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from kgan.quiet import import_tensorflow  # noqa: E402

import_tensorflow()  # loads TensorFlow without its start-up notices

from absl import app, flags  # noqa: E402

from kgan.config import Config  # noqa: E402
from kgan.errors import UserError  # noqa: E402
from kgan.flags import config_from_flags, define_config_flags  # noqa: E402
from kgan.gan import GAN  # noqa: E402


class ConditionalGAN(GAN):
    """A GAN whose generator and discriminator both take the class label.

    Train it with `kgan.train(config, gan_class=ConditionalGAN,
    conditional=True)`; the exported generator serves `(z, labels)`.
    """

    def unpack(self, data):
        images, labels = data
        return images, labels


def main(argv):
    del argv
    try:
        config = config_from_flags(Config, flags.FLAGS)
        from kgan.training import train

        train(config, gan_class=ConditionalGAN, conditional=True)
    except UserError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    define_config_flags(Config, flags.FLAGS)
    flags.FLAGS.set_default("num_samples", 100)  # a 10 x 10 grid: one class per column
    app.run(main)
