"""Bad config and command-line input (issue 34, the config / input half): one line, never a
traceback, never a silently wrong run.

Each test states the class of input it stands for; where the class is a property of the whole
schema (strict types, the int64 range), the test walks every field. ``docs/bad-input.md`` is the
table of what the tool does with each class. Helpers (a tiny COCO folder, ``expect_error``) come
from ``tests/test_bad_input.py``.
"""
from __future__ import annotations

import dataclasses
import time
import typing
from pathlib import Path
from typing import Any, Optional, Union

import pytest

import scrpn.cli as cli
from scrpn.config import (INT_LIMIT, Config, ConfigError, config_from_dict, load_config,
                          parse_override)
from test_bad_input import (_nested, dummy_model, expect_error, make_root, no_training,  # noqa: F401
                            run, train_args, write_config)

ROOT = Path(__file__).resolve().parents[1]


def _fields(cls: type = Config, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """(dotted key, type annotation, default) of every leaf field of the schema."""
    out = []
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        key, hint = f"{prefix}{f.name}", hints[f.name]
        if dataclasses.is_dataclass(hint):
            out += _fields(hint, key + ".")
        else:
            out.append((key, hint, getattr(defaults, f.name)))
    return out


FIELDS = _fields()


def _wrong_values(hint: Any) -> list[Any]:
    """Values of the wrong type for a field of type ``hint``: the truthy / falsy look-alikes
    (0, 1, [], "", "true") and numbers written as strings."""
    args = set(typing.get_args(hint)) if typing.get_origin(hint) is Union else {hint}
    wrong: list[Any] = []
    if bool not in args:
        wrong += [True, False]
    if not args & {int, float}:
        wrong += [0, 1, 0.0, 2.5]
    elif float not in args:
        wrong += [2.5]
    if str not in args:
        wrong += ["true", "0.5", "3", ""]
    elif bool in args:
        wrong += [""]          # pretrained: neither a bool nor a path
    wrong += [{"a": 1}] + ([[], [1]] if list not in args else [])
    if type(None) not in args:
        wrong += [None]
    return wrong


CASES = [(key, value) for key, hint, _ in FIELDS for value in _wrong_values(hint)]


def test_the_walk_covers_every_kind_of_field():
    kinds = {typing.get_origin(h) or h for _, h, _ in FIELDS}
    assert {bool, int, float, str, list, Union} <= kinds
    assert ("model.backbone.pretrained", Union[bool, str], True) in FIELDS
    assert len(CASES) > 500


@pytest.mark.parametrize("key, value", CASES, ids=[f"{k}={v!r}" for k, v in CASES])
def test_every_field_refuses_values_of_another_type(key, value):
    """Strict types (issue 34, item 3): no truthiness, no bool for an int, no number in a string."""
    with pytest.raises(ConfigError, match=rf"x.yaml: '{key}' (has the wrong type|is an empty)"):
        config_from_dict(_nested(key, value), "x.yaml")


@pytest.mark.parametrize("value", ["0", "[]", "1", "''", "0.0", "{}"])
def test_pretrained_0_or_empty_never_loads_imagenet_weights(tmp_path, capsys, no_training,
                                                            monkeypatch, value):
    def no_weights(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("ImageNet weights were looked up")

    monkeypatch.setattr("scrpn.models.backbones._pretrained_path", no_weights)
    cfg = write_config(tmp_path, make_root(tmp_path))
    expect_error(train_args(cfg, tmp_path / "run", "--set", f"model.backbone.pretrained={value}"),
                 capsys, f"--set model.backbone.pretrained={value}:", "'model.backbone.pretrained'")


def test_strict_types_keep_what_is_right():
    cfg = config_from_dict({"model": {"backbone": {"pretrained": "w.pth"}},
                            "train": {"base_lr": 1, "grad_clip": 2, "deterministic": False},
                            "data": {"val_limit": None}}, "x.yaml")
    assert cfg.model.backbone.pretrained == "w.pth" and cfg.train.base_lr == 1.0
    assert isinstance(cfg.train.base_lr, float) and cfg.train.grad_clip == 2.0
    assert parse_override("train.weight_decay=1e-4")[1] == 1e-4       # YAML 1.2 float
    assert parse_override("train.weight_decay=-2E+3")[1] == -2000.0


# ----------------------------------------------------------------------------------------------
# duplicate keys, alias bombs, self-referencing aliases (issue 34, item 4 and hang 1)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, key, lines", [
    ("train:\n  max_iters: -5\nmodel: {}\ntrain:\n  max_iters: 5\n", "train", (1, 4)),
    ("train:\n  max_iters: 5\n  base_lr: 0.1\n  max_iters: 6\n", "max_iters", (2, 4)),
    ("model: {head: {num_stages: 1, num_stages: 2}}\n", "num_stages", (1, 1)),
    ("a: &a {x: 1}\ntrain:\n  <<: *a\n  seed: 1\n  seed: 2\n", "seed", (4, 5)),
])
def test_duplicate_keys_are_refused_with_both_lines(tmp_path, capsys, no_training, text, key,
                                                    lines):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    expect_error(train_args(cfg, tmp_path / "run"), capsys, "c.yaml",
                 f"key '{key}' appears twice", f"line {lines[0]} and line {lines[1]}")


def test_duplicate_keys_in_a_base_file_and_in_a_set_value(tmp_path, capsys, no_training):
    (tmp_path / "base.yaml").write_text("train: {seed: 1}\ntrain: {seed: 2}\n")
    (tmp_path / "c.yaml").write_text("_base_: base.yaml\n")
    expect_error(train_args(tmp_path / "c.yaml", tmp_path / "run"), capsys, "base.yaml:",
                 "key 'train' appears twice")
    (tmp_path / "d.yaml").write_text("{}\n")
    expect_error(train_args(tmp_path / "d.yaml", tmp_path / "run", "--set",
                            "train={seed: 1, seed: 2}"), capsys,
                 "--set train={seed: 1, seed: 2}:", "key 'seed' appears twice")


def test_merge_keys_and_shared_aliases_still_work(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("ratios: &r [1.0]\nmodel: {head: {anchor_ratios: *r, alignment: offset,\n"
                    "  num_stages: 2}}\nstage: &s {cls_weight: 0.5}\n"
                    "x: {model: {head: {stage1: {<<: *s, reg_weight: 2.0}}}}\n")
    with pytest.raises(ConfigError, match="unknown key 'ratios'"):
        load_config(path)
    path.write_text("model:\n  head:\n    anchor_ratios: &r [1.0]\n    alignment: offset\n"
                    "    num_stages: 2\n    stage1: &s {cls_weight: 0.5, reg_weight: 2.0}\n"
                    "    stage2: {<<: *s, reg_weight: 3.0}\n")
    head = load_config(path).model.head
    assert head.stage2.cls_weight == 0.5 and head.stage2.reg_weight == 3.0


def _alias_bomb(levels: int) -> str:
    """A config whose last alias stands for 9^levels floats (522 bytes at 9 levels)."""
    lines = ["a0: &a0 [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append(f"model: {{head: {{anchor_ratios: *a{levels - 1}}}}}")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once(tmp_path, capsys, no_training):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(_alias_bomb(9))
    assert len(cfg.read_bytes()) == 522
    start = time.process_time()
    # expanded: list a_i is 1 node + 9 copies of a_(i-1), a_0 = 1 + 9 floats = 10, so
    # a_i = 10, 91, 820, ..., a_8 = 435,848,050; the document is its root, nine keys, the
    # nine lists (490,329,054 nodes together), the key model, {head: ...}, the key head,
    # {anchor_ratios: ...}, the key anchor_ratios and a_8 once more: 926,177,119 values.
    expect_error(train_args(cfg, tmp_path / "run"), capsys, "c.yaml",
                 "aliases expand it to 926,177,119 values", "more than the 100,000")
    assert time.process_time() - start < 2.0


def test_an_alias_inside_its_own_node_is_one_line(tmp_path, capsys, no_training):
    cfg = tmp_path / "c.yaml"
    for text in ("train: &t {lr_steps: *t}\n", "model: {head: {anchor_ratios: &r [1.0, *r]}}\n"):
        cfg.write_text(text)
        expect_error(train_args(cfg, tmp_path / "run"), capsys, "c.yaml",
                     "an alias refers to a node that contains it")
    cfg.write_text("{}\n")
    expect_error(train_args(cfg, tmp_path / "run", "--set", "train.lr_steps=&s [*s]"), capsys,
                 "--set train.lr_steps=&s [*s]:", "an alias refers to a node that contains it")


def test_deep_nesting_is_one_line(tmp_path, capsys, no_training):
    cfg = tmp_path / "c.yaml"
    for depth in (70, 5000):
        cfg.write_text("train: {lr_steps: " + "[" * depth + "]" * depth + "}\n")
        expect_error(train_args(cfg, tmp_path / "run"), capsys, "c.yaml", "nested deeper than")


# ----------------------------------------------------------------------------------------------
# provenance: cross-field checks and `config show` name the --set item (issue 34, tracebacks list)
# ----------------------------------------------------------------------------------------------

def test_cross_field_checks_name_the_set_item(tmp_path, capsys, no_training):
    cfg = write_config(tmp_path, make_root(tmp_path))
    line = expect_error(train_args(cfg, tmp_path / "run", "--set", "model.head.alignment=offset"),
                        capsys, "scrpn: error: --set model.head.alignment=offset: ",
                        "anchor_ratios: [1.0]")
    assert "bad_input.yaml" not in line
    line = expect_error(train_args(cfg, tmp_path / "run", "--set", "eval.max_dets=[300]"),
                        capsys, "scrpn: error: --set eval.max_dets=[300]: ", "must contain 100")
    assert "bad_input.yaml" not in line
    # the file's own mistake is still the file's, even with an unrelated --set
    cfg.write_text(cfg.read_text() + "model: {head: {alignment: offset}}\n")
    expect_error(train_args(cfg, tmp_path / "run", "--set", "train.max_iters=2"), capsys,
                 f"scrpn: error: {cfg}: ", "anchor_ratios: [1.0]")


def test_a_value_from_a_base_file_is_blamed_on_that_file(tmp_path, capsys, no_training):
    (tmp_path / "base.yaml").write_text("model: {test: {nms_thr: 2.0}}\n")
    (tmp_path / "c.yaml").write_text("_base_: base.yaml\ntrain: {max_iters: 2}\n")
    line = expect_error(train_args(tmp_path / "c.yaml", tmp_path / "run"), capsys,
                        "base.yaml: 'model.test.nms_thr' = 2.0 is above its maximum")
    assert "c.yaml" not in line


def test_config_show_names_the_set_item(capsys):
    for item, fragment in (("train.max_iters=0", "'train.max_iters' = 0 is below"),
                           ("model.head.alignment=offset", "anchor_ratios: [1.0]")):
        line = expect_error(["config", "show", "rpn", "--profile", "smoke", "--set", item],
                            capsys, f"scrpn: error: --set {item}: ", fragment)
        assert "yaml" not in line


# ----------------------------------------------------------------------------------------------
# seeds and integers beyond any range (issue 34, tracebacks list)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("item, fragment", [
    ("train.seed=-1", "'train.seed' = -1 is below its minimum 0"),
    ("data.data_seed=-1", "'data.data_seed' = -1 is below its minimum 0"),
    ("train.seed=100000000000000000000", "'train.seed' = 100000000000000000000 is beyond the "
                                         "64-bit integer range"),
    ("data.data_seed=1e20", "'data.data_seed' has the wrong type"),
    ("train.base_lr=1" + "0" * 400, "'train.base_lr' = 1000000000000000000000000000000000000000"
                                    "...(401 characters) is beyond the range of a float"),
    ("eval.max_dets=[100, 1" + "0" * 400 + "]", "'eval.max_dets[1]' = "),
    ("eval.max_dets=[100, 9223372036854775808]", "beyond the 64-bit integer range"),
])
def test_seeds_and_huge_integers_are_refused_before_training(tmp_path, capsys, no_training,
                                                             item, fragment):
    cfg = write_config(tmp_path, make_root(tmp_path))
    expect_error(train_args(cfg, tmp_path / "run", "--set", item), capsys, f"--set {item[:30]}",
                 fragment)


@pytest.mark.parametrize("key, hint", [(k, h) for k, h, _ in FIELDS if h in (int, Optional[int])])
def test_every_int_field_refuses_values_beyond_int64(key, hint):
    for value in (INT_LIMIT + 1, -INT_LIMIT - 1, 10**400):
        with pytest.raises(ConfigError, match=rf"'{key}' = .* is beyond the 64-bit"):
            config_from_dict(_nested(key, value), "x.yaml")


@pytest.mark.parametrize("key", [k for k, h, _ in FIELDS if h in (float, Optional[float])])
def test_every_float_field_refuses_an_int_beyond_the_float_range(key):
    with pytest.raises(ConfigError, match=rf"'{key}' = .* is beyond the range of a float"):
        config_from_dict(_nested(key, 10**400), "x.yaml")


def test_the_largest_seed_is_usable():
    from scrpn.engine.seeding import derive_seed, epoch_permutation, seed_everything

    cfg = config_from_dict({"train": {"seed": 2**63 - 1}, "data": {"data_seed": 2**63 - 1}})
    seed_everything(cfg.train.seed)
    assert 0 <= derive_seed(cfg.train.seed, 1) < 2**63
    assert sorted(epoch_permutation(5, cfg.train.seed, 0)) == [0, 1, 2, 3, 4]
