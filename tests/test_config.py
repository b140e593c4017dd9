"""Config: defaults follow the mission, bad values fail early and clearly."""

import dataclasses
import re
import subprocess
import sys

import pytest
from absl import flags

from kgan.config import Config, EvaluateConfig, SampleConfig, _field, field_spec, requirement
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


@pytest.mark.parametrize("config_class", [Config, SampleConfig, EvaluateConfig])
def test_every_field_gives_its_reason(config_class):
    for field in dataclasses.fields(config_class):
        assert len(field.metadata.get("help", "")) > 10, field.name


def _fields_with(key):
    return [f.name for f in dataclasses.fields(Config) if field_spec(Config, f.name)[key]]


def test_choices_live_on_their_fields():
    assert Config.choices("discriminator") == ("dcgan", "patchgan")
    assert Config.choices("label_noise_schedule") == ("constant", "linear", "step")
    assert Config.choices("batch_size") == ()
    for name in _fields_with("choices"):
        assert getattr(Config(), name) in Config.choices(name), name


@pytest.mark.parametrize("name", _fields_with("choices"))
def test_every_choice_field_rejects_other_values(name):
    with pytest.raises(UserError) as error:
        Config(**{name: "nonsense"})
    assert str(error.value) == (
        f"--{name}='nonsense' is not one of {', '.join(Config.choices(name))}."
    )


@pytest.mark.parametrize("name", _fields_with("low") + _fields_with("above"))
def test_every_bounded_field_rejects_a_value_below_its_bound(name):
    spec = field_spec(Config, name)
    value = spec["above"] if spec["low"] is None else spec["low"] - 1
    with pytest.raises(UserError) as error:
        Config(**{name: value})
    assert str(error.value).startswith(f"--{name}={value} must be {requirement(Config, name)}")


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("label_flip", 0.51, "in [0, 0.5]"),
        ("label_smoothing", 0.5, "in [0, 0.5)"),
        ("ema", 1.0, "in [0, 1)"),
        ("g_dropout", 1.0, "in [0, 1)"),
        ("label_noise_final_scale", 1.5, "in [0, 1]"),
        ("beta_2", 1.0, "in [0, 1)"),
    ],
)
def test_upper_bounds_are_checked_with_their_interval(name, value, words):
    with pytest.raises(UserError, match=re.escape(f"--{name}={value} must be {words}")):
        Config(**{name: value})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batch_size": 2.5}, "--batch_size=2.5 must be an integer >= 1."),
        ({"batch_size": True}, "--batch_size=True must be an integer >= 1."),
        ({"g_lr": float("inf")}, "--g_lr=inf must be a positive number: DCGAN uses 2e-4."),
        ({"d_lr": float("nan")}, "--d_lr=nan must be a positive number: DCGAN uses 2e-4."),
        ({"checkpoint_every": -1}, "--checkpoint_every=-1 must be an integer >= 0: 0 saves"),
        ({"out_dir": ""}, "--out_dir='' is empty; give a folder to write the run into."),
        ({"seed": -1}, "--seed=-1 must be an integer >= 0."),
    ],
)
def test_messages_name_the_value_the_bound_and_the_hint(overrides, message):
    with pytest.raises(UserError) as error:
        Config(**overrides)
    assert str(error.value).startswith(message)


def test_a_subclass_changing_a_default_keeps_the_bounds():
    @dataclasses.dataclass
    class Critic(Config):
        d_dropout: float = dataclasses.field(default=0.0, metadata={"help": "Off for a critic."})
        d_steps: int = _field(5, "Five critic updates per generator update.")
        d_lr: float = _field(1e-4, "The WGAN-GP paper's rate.", hint="WGAN-GP uses 1e-4")

    assert (Critic().d_dropout, Critic().d_steps) == (0.0, 5)
    assert Critic.help("d_dropout") == "Off for a critic."
    with pytest.raises(UserError, match=re.escape("--d_dropout=1.0 must be in [0, 1)")):
        Critic(d_dropout=1.0)
    with pytest.raises(UserError, match=re.escape("--d_steps=0 must be an integer >= 1.")):
        Critic(d_steps=0)
    with pytest.raises(UserError, match=re.escape("must be a positive number: WGAN-GP uses")):
        Critic(d_lr=0.0)


def test_shared_fields_are_one_definition():
    for name in ("dataset", "data_dir", "image_size", "seed"):
        spec = field_spec(Config, name)
        assert field_spec(EvaluateConfig, name) == spec, name
    assert field_spec(SampleConfig, "seed") == field_spec(Config, "seed")
    with pytest.raises(UserError, match="--dataset=' ' is empty"):
        EvaluateConfig(dataset=" ", real=True)


@pytest.mark.parametrize(
    "overrides, named",
    [
        ({"g_lr": 0.0}, "--g_lr=0.0 must be a positive number: DCGAN uses 2e-4."),
        ({"d_lr": -1e-4}, "--d_lr=-0.0001"),
        ({"label_flip": 0.6}, "--label_flip=0.6"),
        ({"label_flip": -0.1}, "--label_flip=-0.1"),
        ({"label_smoothing": 0.5}, "--label_smoothing=0.5"),
        ({"batch_size": 0}, "--batch_size=0"),
        ({"epochs": 0}, "--epochs=0"),
        ({"steps_per_epoch": 0}, "--steps_per_epoch=0"),
        ({"discriminator": "wgan"}, "--discriminator='wgan'"),
        ({"upsample": "bilinear"}, "--upsample='bilinear'"),
        ({"beta_1": 1.0}, "--beta_1=1.0 must be in [0, 1): DCGAN uses beta_1=0.5."),
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
