"""absl flags generated from a config dataclass, one flag per field.

Only `train.py` (and other programs) call this with `absl.flags.FLAGS`;
the library itself never reads flags, and absl is imported only inside
these functions. A field's reason is its flag's help; its bounds are added
to the help, and a field with `choices` becomes an enum flag, so `--help`
shows `<dcgan|patchgan>`.
"""

import dataclasses
import functools

from kgan.config import field_kind, field_spec, requirement


def flag_help(config_class, name):
    """Returns the help text of field `name`'s flag: its reason, then its bounds."""
    spec = field_spec(config_class, name)
    bounds = requirement(config_class, name)
    return f"{spec['help']} Must be {bounds}." if bounds else spec["help"]


def define_config_flags(config_class, flag_values, module_name=None):
    """Defines one absl flag per field of `config_class`, with its default and reason.

    Values are checked when the config is built (`config_from_flags`), not
    while absl parses them, so a bad choice gets the config's one-line
    message (`--discriminator='resnet' is not one of dcgan, patchgan.`).

    Args:
        config_class: a dataclass whose fields carry `metadata["help"]`,
            and optionally the limits `kgan.config._field` records.
        flag_values: usually `absl.flags.FLAGS`.
        module_name: the module the flags are listed under by `--helpshort`;
            default: the main program.
    """
    import sys

    from absl import flags

    module_name = module_name or sys.argv[0]

    definers = {
        bool: flags.DEFINE_boolean,
        int: flags.DEFINE_integer,
        float: flags.DEFINE_float,
        str: flags.DEFINE_string,
    }
    for field in dataclasses.fields(config_class):
        spec = field_spec(config_class, field.name)
        help_text = flag_help(config_class, field.name)
        if spec["choices"]:
            flag = _choice_flag_class()(field.name, field.default, help_text, spec["choices"])
            flags.DEFINE_flag(flag, flag_values, module_name, required=spec["required"])
            continue
        definers[field_kind(field)[0]](
            field.name,
            field.default,
            help_text,
            flag_values=flag_values,
            module_name=module_name,
            required=spec["required"],
        )


def config_from_flags(config_class, flag_values):
    """Builds (and so validates) a `config_class` from parsed flags."""
    return config_class(
        **{f.name: flag_values[f.name].value for f in dataclasses.fields(config_class)}
    )


@functools.cache
def _choice_flag_class():
    """An absl enum flag that lists its choices in `--help` but accepts any string.

    The config rejects a bad value with a message naming the fix; absl's own
    parse error would be a two-line `FATAL Flags parsing error`.
    """
    from absl import flags

    class ChoiceFlag(flags.EnumFlag):
        def _parse(self, argument):
            return argument

    return ChoiceFlag
