"""Names the flags and the library share: choice lists kept beside their code, lazy exports."""

import subprocess
import sys

import pytest

from kgan import networks
from kgan.config import Config
from kgan.data.local import ON_BAD_IMAGE
from kgan.precision import PRECISIONS
from kgan.schedules import SCHEDULES, label_noise_scale
from tests.conftest import REPO


@pytest.mark.parametrize(
    "schedule, kwargs, expected",
    [
        ("constant", {}, [1.0, 1.0, 1.0, 1.0, 1.0]),
        ("linear", {"decay_epochs": 4, "final_scale": 0.2}, [1.0, 0.8, 0.6, 0.4, 0.2]),
        ("step", {"decay_epochs": 2, "step_factor": 0.5}, [1.0, 1.0, 0.5, 0.5, 0.25]),
    ],
)
def test_label_noise_scale_is_a_pure_function_of_the_epoch(schedule, kwargs, expected):
    scales = [label_noise_scale(schedule, epoch, **kwargs) for epoch in range(5)]
    assert scales == pytest.approx(expected)


def test_an_unknown_schedule_is_refused_by_name():
    with pytest.raises(ValueError, match="'cosine' is not one of constant, linear, step"):
        label_noise_scale("cosine", 0)


@pytest.mark.parametrize(
    "field, choices",
    [
        ("label_noise_schedule", SCHEDULES),
        ("on_bad_image", ON_BAD_IMAGE),
        ("g_activation", networks.ACTIVATIONS),
        ("d_activation", networks.ACTIVATIONS),
        ("g_output", networks.G_OUTPUTS),
        ("upsample", networks.UPSAMPLINGS),
        ("discriminator", networks.DISCRIMINATOR_HEADS),
        ("mixed_precision", PRECISIONS),
    ],
)
def test_the_flags_offer_the_lists_the_code_defines(field, choices):
    assert Config.choices(field) is choices


def test_the_lists_import_without_tensorflow():
    code = "import sys, kgan.config; print('tensorflow' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert result.stdout.strip() == "False"


def test_every_lazy_export_of_kgan_resolves():
    import kgan

    for name in kgan.__all__:
        assert getattr(kgan, name) is not None, name
