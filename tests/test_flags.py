"""Flags generated from the config dataclasses: choices and bounds in --help, one help per field."""

import dataclasses
import os
import subprocess
import sys

import pytest
from absl import flags

from kgan.config import Config, EvaluateConfig, SampleConfig
from kgan.errors import UserError
from kgan.flags import config_from_flags, define_config_flags
from tests.conftest import REPO

SHARED = ("dataset", "data_dir", "image_size", "seed")


def _flags(config_class, *argv):
    flag_values = flags.FlagValues()
    define_config_flags(config_class, flag_values, module_name="test")
    flag_values(["prog", *argv])
    return flag_values


def _help(program):
    """The `--helpfull` text of `program`, its whitespace collapsed (absl wraps lines)."""
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, program), "--helpfull"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=REPO),
        cwd=REPO,
    )
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return " ".join(result.stdout.split())


def test_choice_fields_become_enum_flags_listing_their_choices():
    flag_values = _flags(Config)
    for field in dataclasses.fields(Config):
        choices = Config.choices(field.name)
        flag = flag_values[field.name]
        assert isinstance(flag, flags.EnumFlag) == bool(choices), field.name
        if choices:
            assert flag.help.startswith(f"<{'|'.join(choices)}>: "), field.name
    assert flag_values["discriminator"].help.startswith("<dcgan|patchgan>: ")


def test_bounds_are_shown_in_the_help():
    flag_values = _flags(Config)
    assert flag_values["label_flip"].help.endswith("Must be in [0, 0.5].")
    assert flag_values["d_dropout"].help.endswith("Must be in [0, 1).")
    assert flag_values["batch_size"].help.endswith("Must be an integer >= 1.")
    assert flag_values["g_lr"].help.endswith("Must be a positive number.")
    assert flag_values["eval_samples"].help.endswith("Must be an integer >= 0.")
    assert flag_values["dataset"].help == Config.help("dataset")


def test_a_bad_choice_gets_the_config_message_not_an_absl_parse_error():
    flag_values = _flags(Config, "--discriminator=resnet")
    assert flag_values.discriminator == "resnet"
    with pytest.raises(UserError) as error:
        config_from_flags(Config, flag_values)
    assert str(error.value) == "--discriminator='resnet' is not one of dcgan, patchgan."
    assert config_from_flags(Config, _flags(Config, "--upsample=upsample_conv")).upsample == (
        "upsample_conv"
    )


def test_the_generator_flag_of_sample_is_required():
    with pytest.raises(flags.IllegalFlagValueError, match="--generator"):
        _flags(SampleConfig)
    config = config_from_flags(SampleConfig, _flags(SampleConfig, "--generator=G", "--num=4"))
    assert (config.generator, config.num, config.out) == ("G", 4, "samples.png")
    assert _flags(EvaluateConfig).generator is None


@pytest.mark.parametrize(
    "config_class, defaults",
    [
        (
            SampleConfig,
            dict(
                generator=None,
                num=64,
                out="samples.png",
                separate=False,
                seed=0,
                interpolate=0,
                truncation=0.0,
                label=None,
                num_classes=10,
            ),
        ),
        (
            EvaluateConfig,
            dict(
                generator=None,
                dataset="mnist",
                data_dir=None,
                image_size=0,
                num_samples=5000,
                seed=0,
                json=False,
                real=False,
                classifier_epochs=0,
                cache_dir=None,
                identity_key="",
            ),
        ),
    ],
)
def test_program_flags_keep_their_names_and_defaults(config_class, defaults):
    flag_values = flags.FlagValues()
    define_config_flags(config_class, flag_values, module_name="test")
    assert {name: flag_values[name].default for name in defaults} == defaults
    assert {f.name for f in dataclasses.fields(config_class)} == set(defaults)


def test_sample_rejects_out_of_range_values_from_the_metadata():
    with pytest.raises(UserError, match=r"--num=0 must be an integer >= 1\."):
        SampleConfig(generator="G", num=0)
    with pytest.raises(UserError, match="--truncation=-1.0 must be a number >= 0"):
        SampleConfig(generator="G", truncation=-1.0)
    with pytest.raises(UserError, match="--generator is missing"):
        SampleConfig()


def test_shared_fields_have_one_help_text_across_the_three_programs():
    helps = {program: _help(program) for program in ("train.py", "sample.py", "evaluate.py")}
    assert "<dcgan|patchgan>" in helps["train.py"]
    assert "<constant|linear|step>" in helps["train.py"]
    for name in SHARED:
        text = " ".join(Config.help(name).split())
        programs = [p for p in helps if p != "sample.py" or name == "seed"]
        for program in programs:
            assert text in helps[program], (program, name)
