"""Config: defaults follow the mission, bad values fail early and clearly."""

import dataclasses
import subprocess
import sys

import pytest
from absl import flags

from kgan.config import Config
from kgan.errors import UserError
from kgan.flags import config_from_flags, define_config_flags


def test_defaults_follow_the_dcgan_recipe():
    config = Config()
    assert config.g_lr <= 2e-4 and config.d_lr <= 2e-4
    assert config.beta_1 == 0.5
    assert config.label_flip == 0.1
    assert config.separate_batches
    assert config.g_dropout == 0.0 and config.d_dropout > 0
    assert config.g_output == "tanh"
    assert config.upsample == "conv_transpose"
    assert config.g_activation == config.d_activation == "leaky_relu"
    assert config.discriminator == "dcgan"


def test_every_field_gives_its_reason():
    for field in dataclasses.fields(Config):
        assert len(field.metadata.get("help", "")) > 10, field.name


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"g_lr": 0.0}, "--g_lr=0.0"),
        ({"d_lr": -1e-4}, "--d_lr=-0.0001"),
        ({"label_flip": 0.6}, "--label_flip=0.6"),
        ({"label_flip": -0.1}, "--label_flip=-0.1"),
        ({"label_smoothing": 0.5}, "--label_smoothing=0.5"),
        ({"batch_size": 0}, "--batch_size=0"),
        ({"epochs": 0}, "--epochs=0"),
        ({"steps_per_epoch": 0}, "--steps_per_epoch=0"),
        ({"discriminator": "wgan"}, "--discriminator='wgan'"),
        ({"upsample": "bilinear"}, "--upsample='bilinear'"),
        ({"beta_1": 1.0}, "--beta_1=1.0"),
        ({"image_size": 30}, "--image_size=30"),
        ({"image_size": 36}, "--image_size=36"),
        ({"d_dropout": 1.0}, "--d_dropout=1.0"),
        ({"label_noise_schedule": "cosine"}, "--label_noise_schedule='cosine'"),
        ({"dataset": " "}, "--dataset=' '"),
        ({"strategy": "horovod"}, "--strategy='horovod'"),
        ({"mixed_precision": "float16"}, "--mixed_precision='float16'"),
        ({"devices": "/gpu:0"}, "--devices=/gpu:0"),
        ({"deterministic": True, "jit_compile": True}, "--deterministic needs --nojit_compile"),
        ({"checkpoint_every": -1}, "--checkpoint_every=-1"),
        ({"eval_every": -1}, "--eval_every=-1"),
        ({"eval_samples": 10}, "--eval_samples=10"),
        ({"on_failure": "ignore"}, "--on_failure='ignore'"),
    ],
)
def test_bad_values_raise_a_message_naming_the_value(overrides, named):
    with pytest.raises(UserError) as error:
        Config(**overrides)
    assert named in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("size, plan", [(28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (48, (3, 4))])
def test_producible_image_sizes_are_accepted(size, plan):
    from kgan.networks import plan_generator

    assert Config(image_size=size).image_size == size
    assert plan_generator(size) == plan


def test_json_round_trip(tmp_path):
    config = Config(dataset="fashion_mnist", label_flip=0.05, steps_per_epoch=7)
    path = tmp_path / "config.json"
    config.to_json(str(path))
    assert Config.from_json(str(path)) == config


def test_unknown_json_keys_are_an_error():
    with pytest.raises(UserError, match="unknown config keys"):
        Config.from_dict({"learning_rate": 1e-3})


def test_flags_map_one_to_one_onto_fields():
    flag_values = flags.FlagValues()
    define_config_flags(Config, flag_values, module_name="test")
    names = {f.name for f in dataclasses.fields(Config)}
    assert names <= set(flag_values)
    flag_values(["prog", "--label_flip=0.2", "--steps_per_epoch=3", "--noseparate_batches"])
    config = config_from_flags(Config, flag_values)
    assert config.label_flip == 0.2
    assert config.steps_per_epoch == 3
    assert config.separate_batches is False
    assert config.batch_size == Config().batch_size


def test_config_module_does_not_load_tensorflow():
    code = (
        "import kgan.config, kgan.networks, kgan.data.idx, sys; print('tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
