"""The `evaluate` program: `python evaluate.py` or `python -m kgan.evaluate`.

    python evaluate.py --generator=runs/kgan/generator --dataset=../shared/data/mnist
    python evaluate.py --dataset=../shared/data/mnist --real     # the floor
    python evaluate.py --generator=... --dataset=... --json      # one JSON object

Flags are defined by `define_flags` (absl is imported only when the program
runs, never when the library imports this module); `main` turns them into
one call of `kgan.evaluation`.
"""

import json
import logging
import math
import sys
import time

from kgan.errors import UserError


def define_flags(flag_values, module_name=None):
    """Defines the program's flags on `flag_values` (usually `absl.flags.FLAGS`).

    Args:
        flag_values: where to define them.
        module_name: the module `--helpshort` lists them under; default:
            the main program.
    """
    from absl import flags

    module_name = module_name or sys.argv[0]

    def define(kind, name, default, help_text):
        getattr(flags, f"DEFINE_{kind}")(
            name, default, help_text, flag_values=flag_values, module_name=module_name
        )

    define("string", "generator", None, "A SavedModel whose `serve` maps noise to images.")
    define("string", "dataset", "mnist", "The dataset it imitates: a TFDS name or a local path.")
    define("string", "data_dir", None, "Passed to tfds.load; None means TFDS' default.")
    define("integer", "image_size", 0, "0 keeps the dataset's own size (as in training).")
    define("integer", "num_samples", 5000, "Images drawn from the generator and scored.")
    define(
        "integer", "seed", 0, "Seed of the latents and of KID's subsets: same seed, same scores."
    )
    define("boolean", "json", False, "Print one JSON object instead of the table.")
    define("boolean", "real", False, "Score real held-out images instead: the floor.")
    define(
        "integer",
        "classifier_epochs",
        0,
        "Epochs of the classifier when it is first trained (part of its cache key); "
        "0: the recipe's.",
    )
    define(
        "string",
        "cache_dir",
        None,
        "Where the dataset's classifier is cached; default $KGAN_CACHE_DIR or ~/.cache/kgan.",
    )


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def run(options):
    """Evaluates as `options` (the parsed flags, any object with their names) say.

    Returns:
        The text to print: the table, or one JSON object.

    Raises:
        UserError: a missing or unusable generator, or a bad dataset.
    """
    from kgan.evaluation import Evaluator
    from kgan.evaluation.generators import as_generator, generate
    from kgan.evaluation.report import format_table

    if not options.real and not options.generator:
        raise UserError("--generator is missing; give a SavedModel folder, or pass --real.")
    if options.num_samples < 100:
        raise UserError(f"--num_samples={options.num_samples} is too small; use at least 100.")
    # Checked before the dataset is loaded: a bad path fails in a blink.
    generator = None if options.real else as_generator(options.generator)
    evaluator = Evaluator.from_dataset(
        options.dataset,
        options.data_dir,
        options.image_size,
        options.cache_dir,
        options.classifier_epochs or None,
    )
    floor = evaluator.floor(options.num_samples, options.seed)
    columns = [("real floor", floor)]
    result = floor
    if generator is not None:
        start = time.time()
        images = generate(generator, options.num_samples, options.seed, evaluator.data.num_classes)
        generated = time.time() - start
        result = evaluator.score_images(images, options.seed)
        logging.info(
            "generated %d images in %.1f s, scored them in %.1f s",
            len(images),
            generated,
            time.time() - start - generated,
        )
        columns.insert(0, ("generator", result))

    classifier = evaluator.classifier
    if options.json:
        output = {key: _json_value(value) for key, value in result.items()}
        if generator is not None:
            output["floor"] = {key: _json_value(value) for key, value in floor.items()}
        output["classifier_accuracy"] = classifier.accuracy if classifier else None
        return json.dumps(output, sort_keys=True)
    lines = [f"dataset: {evaluator.data.name} ({evaluator.data.split})"]
    if classifier:
        lines.append(
            f"classifier: {100 * classifier.accuracy:.2f}% accuracy on "
            f"{classifier.info['held_out_images']} held-out images"
        )
    else:
        lines.append("no labels: only the label-free checks (diversity, duplicates)")
    if generator is not None:
        lines.append(f"generator: {generator.name} (latent_dim {generator.latent_dim})")
    lines += ["", format_table(columns, evaluator.data.num_classes)]
    return "\n".join(lines)


def main(argv):
    """The absl entry point."""
    from absl import app, flags

    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    try:
        from kgan.quiet import import_tensorflow

        import_tensorflow()
        print(run(flags.FLAGS))
    except UserError as e:
        sys.exit(f"error: {e}")


def program():
    """Defines the flags and runs `main` (what `python -m kgan.evaluate` does)."""
    from absl import app, flags

    define_flags(flags.FLAGS)
    app.run(main)


if __name__ == "__main__":
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    program()
