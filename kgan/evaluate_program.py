"""The `evaluate` program: `python evaluate.py` or `python -m kgan.evaluate_program`.

    python evaluate.py --generator=runs/kgan/generator --dataset=../shared/data/mnist
    python evaluate.py --dataset=../shared/data/mnist --real     # the floor
    python evaluate.py --generator=... --dataset=... --json      # one JSON object

Every flag is a field of `kgan.config.EvaluateConfig` (absl is imported
only when the program runs, never when the library imports this module);
`main` turns the flags into that config and `evaluate_from_config` into
one call of `kgan.quality`.
"""

import json
import logging
import math
import sys
import time

from kgan.config import EvaluateConfig
from kgan.errors import UserError


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluate_from_config(config):
    """Evaluates as `config` (a `kgan.config.EvaluateConfig`) says.

    Returns:
        The text to print: the table, or one JSON object.

    Raises:
        UserError: a missing or unusable generator, or a bad dataset.
    """
    from kgan.quality import Evaluator
    from kgan.quality.generators import as_generator, generate
    from kgan.quality.table import format_table

    # Checked before the dataset is loaded: a bad path fails in a blink.
    generator = None if config.real else as_generator(config.generator)
    evaluator = Evaluator.from_dataset(
        config.dataset,
        config.data_dir,
        config.image_size,
        config.cache_dir,
        config.classifier_epochs or None,
        identity_key=config.identity_key or None,
    )
    floor = evaluator.floor(config.num_samples, config.seed)
    columns = [("real floor", floor)]
    result = floor
    if generator is not None:
        start = time.time()
        images = generate(generator, config.num_samples, config.seed, evaluator.data.num_classes)
        generated = time.time() - start
        result = evaluator.score_images(images, config.seed)
        logging.info(
            "generated %d images in %.1f s, scored them in %.1f s",
            len(images),
            generated,
            time.time() - start - generated,
        )
        columns.insert(0, ("generator", result))

    classifier = evaluator.classifier
    if config.json:
        output = {key: _json_value(value) for key, value in result.items()}
        if generator is not None:
            output["floor"] = {key: _json_value(value) for key, value in floor.items()}
        output["classifier_accuracy"] = classifier.accuracy if classifier else None
        return json.dumps(output, sort_keys=True)
    lines = [f"dataset: {evaluator.data.name} ({evaluator.data.split})"]
    if evaluator.features == "self-supervised":
        lines.append(
            "no labels: features of a label-free extractor trained on the images "
            f"({classifier.info.get('train_images')} images), {classifier.num_classes} "
            "k-means clusters as classes"
        )
    elif classifier:
        lines.append(
            f"classifier: {100 * classifier.accuracy:.2f}% accuracy on "
            f"{classifier.info['held_out_images']} held-out images"
        )
    else:
        lines.append("no labels: only the label-free checks (diversity, duplicates)")
    if evaluator.identity is not None:
        info = evaluator.identity.info
        lines.append(
            f"identities: {info['identities']} in {evaluator.identity.data.name}"
            f"[{evaluator.identity.data.key!r}], classifier {100 * info['accuracy']:.1f}% "
            f"accuracy on {info['held_out_images']} held-out images"
        )
    if generator is not None:
        lines.append(f"generator: {generator.name} (latent_dim {generator.latent_dim})")
    counted = floor.get("classes_counted")
    if counted is not None and counted < (evaluator.data.num_classes or 0):
        rare = evaluator.data.num_classes - counted
        lines.append(
            f"classes: {counted} of {evaluator.data.num_classes} counted in coverage; "
            f"{rare} with under 1% of the data {'is' if rare == 1 else 'are'} pooled "
            "(too few images to judge)"
        )
    lines += ["", format_table(columns, evaluator.data.num_classes)]
    return "\n".join(lines)


def main(argv):
    """The absl entry point."""
    from absl import app, flags

    from kgan.flags import config_from_flags
    from kgan.quiet import import_tensorflow

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        config = config_from_flags(EvaluateConfig, flags.FLAGS)
        # Imported after the flags are checked: a bad flag fails in a blink.
        import_tensorflow()
        print(evaluate_from_config(config))
    except UserError as e:
        sys.exit(f"error: {e}")


def program():
    """Defines the flags and runs `main` (what `python -m kgan.evaluate_program` does)."""
    from absl import app, flags

    from kgan.flags import define_config_flags

    define_config_flags(EvaluateConfig, flags.FLAGS)
    app.run(main)


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    program()
