"""A readable table of evaluation results, one column per scored set."""

import math

# key -> (label, which way is better, what it says)
ROWS = (
    ("fcd", "FCD", "lower", "Frechet distance of classifier features"),
    ("kid", "KID", "lower", "kernel distance, unbiased (~0 = same distribution)"),
    ("classifier_score", "classifier score", "higher", "confident and balanced classes"),
    (
        "classes_covered",
        "classes covered",
        "higher",
        "classes with >= 10% of their data share (of those with >= 1% of the data)",
    ),
    ("class_kl", "class KL", "lower", "KL(sample class mix || data's), nats; rare classes pooled"),
    ("precision", "precision", "higher", "fidelity: samples on the real manifold"),
    ("recall", "recall", "higher", "diversity: real images the samples cover"),
    (
        "recognisable",
        "recognisable",
        "higher",
        "samples given one identity with >= 50% confidence",
    ),
    ("identities", "identities", "higher", "distinct identities among the recognisable"),
    ("diversity", "diversity", "~1", "pixel spread of a fixed batch / real data's"),
    ("duplicates", "duplicates", "lower", "near-copies in a fixed batch (real ~0.01)"),
    ("num_samples", "samples", "", "images scored"),
)


def _format(key, result, num_classes):
    value = result.get(key)
    if value is None:
        return "-"
    if key == "classes_covered":
        counted = result.get("classes_counted") or num_classes
        return f"{value}/{counted}" if counted else str(value)
    if key in ("num_samples", "identities"):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if key == "kid":
        return f"{value:.4f}±{result.get('kid_std') or 0:.4f}"
    if key == "fcd":
        return f"{value:.3f}"
    return f"{value:.3f}"


def format_table(columns, num_classes=None):
    """Formats results side by side.

    Args:
        columns: `(title, result dict)` pairs, e.g. the generator and the
            real floor.
        num_classes: the dataset's class count, shown as `covered/K`.

    Returns:
        The table as text, one row per metric, with which way is better and
        what the metric says.
    """
    rows = [r for r in ROWS if any(c[1].get(r[0]) is not None for c in columns)]
    header = ["metric", *[title for title, _ in columns], "better", "what it says"]
    body = [
        [label, *[_format(key, result, num_classes) for _, result in columns], better, meaning]
        for key, label, better, meaning in rows
    ]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines = []
    for row in [header, *body]:
        cells = [
            str(cell).ljust(width) if i in (0, len(row) - 1) else str(cell).rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
