"""Lever runs of the time-to-quality benchmark: `--set` overrides and how their records group.

No absl flags here, so tests and other benchmarks can import it.
"""

import dataclasses


def parse_set(items):
    """`["d_lr=4e-4", "d_batch_norm=true"]` -> Config overrides typed as the fields' defaults.

    A field whose default is None (planned from the image size) takes an int
    if the text is one, else a float, else the text.

    Raises:
        ValueError: an unknown field, or a value its field's type cannot take.
    """
    from kgan.config import Config

    defaults = {f.name: f.default for f in dataclasses.fields(Config)}
    overrides = {}
    for item in items:
        name, _, text = item.partition("=")
        if name not in defaults:
            raise ValueError(f"--set={item}: Config has no field {name!r}")
        kind = type(defaults[name])
        try:
            overrides[name] = _typed(text, kind)
        except ValueError:
            raise ValueError(f"--set={item}: {name} takes a {kind.__name__}") from None
    return overrides


def _typed(text, kind):
    if kind is bool:
        words = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
        if text.lower() not in words:
            raise ValueError(text)
        return words[text.lower()]
    if kind in (int, float, str):
        return kind(text)
    for guess in (int, float):
        try:
            return guess(text)
        except ValueError:
            pass
    return text


def set_label(overrides):
    """The records' `set`: the overrides as sorted `field=value` pairs, `,`-joined."""
    return ",".join(f"{k}={overrides[k]}" for k in sorted(overrides))


def label(record):
    """The recipe of a record, with its lever if it has one and its seed if not 0."""
    name = record["recipe"] + (f" [{record['set']}]" if record.get("set") else "")
    return name + (f" seed {record['seed']}" if record.get("seed") else "")


def newest(records):
    """The marks of the newest run per dataset, label (lever, seed) and minutes, and its best."""
    marks, best = {}, {}
    for r in records:  # file order: later runs replace earlier ones
        key = (r["dataset"], label(r), r["minutes"])
        (best if r.get("generator") == "best" else marks)[key] = r
    return list(marks.values()), list(best.values())


def run_base(dataset, recipe, seed, lever, mixed_precision):
    """The fields every record of one time_to_quality run shares.

    `mixed_precision` is what ran (`auto` resolved): the same defaults run
    float32 on one CPU and bfloat16 on another.
    """
    base = {"benchmark": "time_to_quality", "dataset": dataset, "recipe": recipe, "seed": seed}
    if lever:
        base["set"] = lever
    base["mixed_precision"] = mixed_precision
    return base


def with_scores(record, scores):
    """`record` plus the scalar entries of `scores`, which may not replace any of its fields.

    A score named like a run's field would silently overwrite it (the
    samples' `precision` score once replaced the run's precision).
    """
    scalars = {k: v for k, v in scores.items() if not isinstance(v, (list, dict))}
    clash = sorted(set(scalars) & set(record))
    if clash:
        raise ValueError(f"scores {clash} would replace the record's own fields")
    return {**record, **scalars}
