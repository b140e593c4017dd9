"""What to try when a check fires: the suggestions, naming learning rates or augmentation."""

# One entry per kind of finding (`Finding.advice`), in the words of train.py's flags.
SUGGESTIONS = {
    "diminished_gradient": (
        "the discriminator wins too easily: lower --d_lr (DCGAN uses the same 2e-4 for both), "
        "raise --d_dropout or the label noise (--label_flip, --label_smoothing), or shrink D "
        "(--d_filters)."
    ),
    "d_overfitting": (
        "augment what D sees: --augment=adaptive (DiffAugment whose strength ADA tunes "
        "against this very signal) or --augment=fixed; more images, or a smaller D "
        "(--d_filters), help too."
    ),
    "mode_collapse": (
        "keep --separate_batches on, raise --d_dropout or the label noise, lower --g_lr; "
        "the run keeps the best generator the quality probe saw as generator/."
    ),
    "getting_worse": (
        "generator/ keeps the best generator so far, so nothing is lost; to go further, "
        "lower both learning rates (--g_lr, --d_lr), or let augmentation act sooner "
        "(--ada_kimg, --augment)."
    ),
    "diverged": (
        "lower the learning rates (--g_lr and --d_lr; DCGAN uses 2e-4 with --beta_1=0.5) "
        "and check that the data is scaled to the generator's output range."
    ),
    "stalled": (
        "if the samples look good, stop here (generator/ holds the best); otherwise lower "
        "the learning rates or raise the label noise and train again."
    ),
    "unstable": (
        "lower the learning rate: halve --g_lr and --d_lr (DCGAN: 2e-4 or less, "
        "--beta_1=0.5) or add label noise."
    ),
}


# Adam's beta_1 above this is the naive first try's real failure: in the ladder
# (benchmarks/results/ladder.md) the rung that sets beta_1 0.5 (and lr 2e-4)
# takes MNIST from 0/10 to 10/10 successes.
DCGAN_BETA_1 = 0.5
BETA_1_ADVICE = (
    "set --beta_1=0.5: Adam's default momentum 0.9 is what fails here (in kgan's ladder "
    "the rung that sets beta_1 0.5 and lr 2e-4 takes the naive first try from 0/10 to "
    "10/10 successful seeds); then "
)
BETA_1_FAILURES = ("mode_collapse", "diminished_gradient", "unstable", "stalled")


def suggest(advice, learning_rates=None, beta_1=None):
    """The suggestion `advice`, naming the learning rate to lower if one stands out.

    Where Adam's `beta_1` is above DCGAN's 0.5, setting it to 0.5 is the
    first suggestion for a collapse, a winning D, swings or a stall.

    Args:
        advice: a key of `SUGGESTIONS`.
        learning_rates: `(g_lr, d_lr)` of the run, or None if unknown.
        beta_1: Adam's beta_1 of the run, or None if unknown.

    Returns:
        The suggestion's text.

    Example:

    >>> suggest("unstable", (2e-4, 1e-2))
    "lower the learning rate: --d_lr=0.01 is 50x --g_lr=0.0002; bring it down to --g_lr's value."
    """
    text = _suggest(advice, learning_rates)
    if beta_1 is not None and beta_1 > DCGAN_BETA_1 + 1e-9 and advice in BETA_1_FAILURES:
        return BETA_1_ADVICE + text
    return text


def _suggest(advice, learning_rates):
    if learning_rates is None:
        return SUGGESTIONS[advice]
    g_lr, d_lr = learning_rates
    high, low = ("d", "g") if d_lr >= g_lr else ("g", "d")
    ratio = max(g_lr, d_lr) / max(min(g_lr, d_lr), 1e-12)
    named = f"--{high}_lr={max(g_lr, d_lr):g} is {ratio:.0f}x --{low}_lr={min(g_lr, d_lr):g}"
    if advice == "diminished_gradient" and d_lr > 2 * g_lr:
        return f"the discriminator wins too easily: {named}; use one rate for both (2e-4)."
    if advice == "unstable" and ratio > 2:
        return f"lower the learning rate: {named}; bring it down to --{low}_lr's value."
    if advice == "diverged":
        return f"{SUGGESTIONS[advice]} Now: --g_lr={g_lr:g}, --d_lr={d_lr:g}."
    if advice == "unstable":
        return (
            f"lower the learning rate: halve --g_lr and --d_lr (now {g_lr:g} and {d_lr:g}; "
            "DCGAN: 2e-4 with --beta_1=0.5) or add label noise."
        )
    return SUGGESTIONS[advice]


def augment_more(augment, p, ada_kimg=None):
    """What to try when D memorises the real images, given the augmentation already at work.

    Args:
        augment: `"off"`, `"fixed"` or `"adaptive"` (as `--augment`).
        p: the augmentation probability now.
        ada_kimg: adaptive: thousands of images for p to go from 0 to 1.

    Returns:
        The suggestion's text.
    """
    if augment == "adaptive" and p >= 1.0:
        return (
            f"adaptive augmentation is at full strength (p = {p:.2f}) and D still "
            "memorises: more images, or a smaller D (--d_filters), or more --d_dropout."
        )
    if augment == "adaptive":
        return (
            f"adaptive augmentation is still ramping up (p = {p:.2f}): let it, or lower "
            f"--ada_kimg (now {ada_kimg:g}) so p rises faster, or lower --ada_target."
        )
    if augment == "fixed":
        return f"raise --augment_p (now {p:.2f}), or --augment=adaptive to let ADA set it."
    return SUGGESTIONS["d_overfitting"]
