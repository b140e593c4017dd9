"""absl flags generated from a config dataclass, one flag per field.

Only `train.py` (and other programs) call this with `absl.flags.FLAGS`;
the library itself never reads flags.
"""

import dataclasses
import types
import typing


def _base_type(annotation):
    """`int | None` -> int; plain types pass through."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return next(a for a in typing.get_args(annotation) if a is not type(None))
    return annotation


def define_config_flags(config_class, flag_values, module_name=None):
    """Defines one absl flag per field of `config_class`, with its default and reason.

    Args:
        config_class: a dataclass whose fields carry `metadata["help"]`.
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
        define = definers[_base_type(field.type)]
        define(
            field.name,
            field.default,
            field.metadata.get("help", ""),
            flag_values=flag_values,
            module_name=module_name,
        )


def config_from_flags(config_class, flag_values):
    """Builds (and so validates) a `config_class` from parsed flags."""
    return config_class(
        **{f.name: flag_values[f.name].value for f in dataclasses.fields(config_class)}
    )
