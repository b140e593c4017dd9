"""The time-to-quality benchmark's lever runs: `--set` parsing and how their records group."""

import pytest

from benchmarks import records as ttq


def test_set_is_typed_as_the_config_fields_and_refuses_unknown_fields():
    overrides = ttq.parse_set(["d_batch_norm=true", "d_lr=4e-4", "d_layers=5", "upsample=resize"])
    assert overrides == {"d_batch_norm": True, "d_lr": 4e-4, "d_layers": 5, "upsample": "resize"}
    assert ttq.parse_set(["spectral_norm=false"]) == {"spectral_norm": False}
    assert ttq.set_label({"d_lr": 4e-4, "d_batch_norm": True}) == "d_batch_norm=True,d_lr=0.0004"
    with pytest.raises(ValueError, match="no field 'd_bn'"):
        ttq.parse_set(["d_bn=true"])


def test_set_types_planned_fields_and_refuses_values_of_the_wrong_type():
    # g_filters defaults to None (planned from the image size): a number is a number.
    assert ttq.parse_set(["g_filters=128", "d_filters=32"]) == {"g_filters": 128, "d_filters": 32}
    with pytest.raises(ValueError, match="d_batch_norm takes a bool"):
        ttq.parse_set(["d_batch_norm=ture"])
    with pytest.raises(ValueError, match="d_lr takes a float"):
        ttq.parse_set(["d_lr=fast"])


def test_a_lever_run_is_its_own_recipe_and_does_not_replace_the_defaults():
    def record(minutes, fcd, lever=None, **extra):
        r = {"dataset": "emoji64", "recipe": "kgan", "minutes": minutes, "fcd": fcd, **extra}
        return {**r, "set": lever} if lever else r

    records = [
        record(16, 20.0),
        record(16, 18.0, "d_batch_norm=True"),
        record(16, 15.0, generator="best"),
        record(16, 19.0),  # a rerun of the defaults replaces the first
    ]
    marks, best = ttq.newest(records)
    assert sorted((ttq.label(r), r["fcd"]) for r in marks) == [
        ("kgan", 19.0),
        ("kgan [d_batch_norm=True]", 18.0),
    ]
    assert [r["fcd"] for r in best] == [15.0]


def test_another_seed_is_its_own_row_beside_seed_0():
    base = {"dataset": "emoji64", "recipe": "kgan", "minutes": 16}
    records = [
        {**base, "seed": 0, "fcd": 20.0},
        {**base, "seed": 1, "fcd": 22.0},
        {**base, "seed": 1, "fcd": 14.0, "set": "ada_target=0.3"},
    ]
    marks, _ = ttq.newest(records)
    assert sorted((ttq.label(r), r["fcd"]) for r in marks) == [
        ("kgan", 20.0),
        ("kgan [ada_target=0.3] seed 1", 14.0),
        ("kgan seed 1", 22.0),
    ]


def test_records_name_the_widest_vector_unit():
    from benchmarks.common import vector_unit

    assert vector_unit({"fpu", "sse2", "avx2", "fma"}) == "AVX2"
    assert vector_unit({"avx2", "avx512f", "avx512bw"}) == "AVX-512"
    assert vector_unit({"avx2", "avx512f", "amx_tile", "amx_bf16"}) == "AMX"
    assert vector_unit({"neon", "asimd"}) == ""
    # Whole flags: "avx512_vnni" alone does not make the unit AVX-512.
    assert vector_unit({"avx2", "avx512_vnni"}) == "AVX2"


def test_records_carry_the_precision_that_ran_and_scores_never_replace_it():
    # `auto` means float32 on one CPU and bfloat16 on another: the record says which ran.
    base = ttq.run_base("emoji64", "kgan", 1, "batch_size=16", "mixed_bfloat16")
    assert base == {
        "benchmark": "time_to_quality",
        "dataset": "emoji64",
        "recipe": "kgan",
        "seed": 1,
        "set": "batch_size=16",
        "mixed_precision": "mixed_bfloat16",
    }
    assert "set" not in ttq.run_base("mnist", "tutorial", 0, "", "none")
    # The samples' `precision` score sits beside the run's `mixed_precision`; lists are left out.
    record = ttq.with_scores(
        {**base, "steps": 10}, {"fcd": 3.0, "precision": 0.6, "per_class": [1]}
    )
    assert record == {**base, "steps": 10, "fcd": 3.0, "precision": 0.6}
    with pytest.raises(ValueError, match=r"scores \['seed'\] would replace"):
        ttq.with_scores(base, {"fcd": 3.0, "seed": 0})
