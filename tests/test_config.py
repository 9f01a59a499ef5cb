"""The config schema: strict validation, _base_ inheritance, --set overrides, consistency."""
from __future__ import annotations

from pathlib import Path

import pytest

from scrpn.config import ConfigError, config_from_dict, dump_config, load_config, parse_override


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_unknown_key_names_dotted_key_and_file(tmp_path):
    path = write(tmp_path / "bad.yaml", "model:\n  head:\n    iou_mask:\n      enable: true\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "bad.yaml" in message and "'model.head.iou_mask.enable'" in message
    assert "enabled" in message  # the allowed keys are listed, so the typo is obvious


@pytest.mark.parametrize("text, fragment", [
    ("train:\n  max_iters: ten\n", "'train.max_iters' has the wrong type"),
    ("train:\n  deterministic: 1\n", "'train.deterministic' has the wrong type"),  # no int->bool
    ("train:\n  batch_size: 2.5\n", "'train.batch_size' has the wrong type"),
    ("train:\n  lr_steps: 8\n", "'train.lr_steps' has the wrong type"),
    ("data:\n  flip_prob: 1.5\n", "'data.flip_prob' = 1.5 is above its maximum 1.0"),
    ("train:\n  batch_size: 0\n", "'train.batch_size' = 0 is below its minimum 1"),
    ("model:\n  backbone:\n    name: vgg\n", "'model.backbone.name' = 'vgg' is not one of"),
    ("model: 3\n", "'model' must be a mapping"),
])
def test_invalid_values_are_rejected_with_the_key(tmp_path, text, fragment):
    path = write(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError, match=r"c\.yaml"):
        load_config(path)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert fragment in str(info.value)


def test_int_is_accepted_where_a_float_is_expected(tmp_path):
    cfg = load_config(write(tmp_path / "c.yaml", "train:\n  base_lr: 1\n  grad_clip: 35\n"))
    assert cfg.train.base_lr == 1.0 and isinstance(cfg.train.base_lr, float)
    assert cfg.train.grad_clip == 35.0 and isinstance(cfg.train.grad_clip, float)


def test_base_merge_is_deep_and_relative_to_the_file(tmp_path):
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "ref.yaml",
          "name: ref\ntrain:\n  max_iters: 100\n  lr_steps: [60, 80]\n"
          "model:\n  head:\n    num_stages: 2\n    stage2:\n      reg_weight: 5.0\n")
    child = write(tmp_path / "child.yaml",
                  "_base_: base/ref.yaml\nname: child\ntrain:\n  max_iters: 50\n"
                  "model:\n  head:\n    stage2:\n      assigner:\n        type: size_aware_threshold\n")
    cfg = load_config(child)
    assert cfg.name == "child" and cfg.train.max_iters == 50
    assert cfg.train.lr_steps == [60, 80]                      # inherited
    assert cfg.model.head.num_stages == 2                      # inherited, sibling of an override
    assert cfg.model.head.stage2.reg_weight == 5.0              # inherited inside the same section
    assert cfg.model.head.stage2.assigner.type == "size_aware_threshold"
    assert cfg.model.head.stage2.assigner.pos_iou_thr == 0.7   # schema default of stage 2


def test_base_cycle_and_missing_file(tmp_path):
    write(tmp_path / "a.yaml", "_base_: b.yaml\n")
    write(tmp_path / "b.yaml", "_base_: a.yaml\n")
    with pytest.raises(ConfigError, match="circular"):
        load_config(tmp_path / "a.yaml")
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_name_defaults_to_the_file_stem(tmp_path):
    assert load_config(write(tmp_path / "rpn_mini.yaml", "{}\n")).name == "rpn_mini"


@pytest.mark.parametrize("item, keys, value", [
    ("train.deterministic=false", ["train", "deterministic"], False),
    ("train.base_lr=0.002", ["train", "base_lr"], 0.002),
    ("train.max_iters=12", ["train", "max_iters"], 12),
    ("train.lr_steps=[8, 11]", ["train", "lr_steps"], [8, 11]),
    ("data.val_limit=null", ["data", "val_limit"], None),
    ("name=a=b", ["name"], "a=b"),
])
def test_override_parsing(item, keys, value):
    assert parse_override(item) == (keys, value)


def test_exponent_notation_is_a_float(tmp_path):
    cfg = load_config(write(tmp_path / "c.yaml", "train:\n  weight_decay: 1e-4\n"),
                      ["train.base_lr=2e-3"])
    assert cfg.train.base_lr == 0.002 and cfg.train.weight_decay == 0.0001


def test_overrides_apply_and_are_validated(tmp_path):
    path = write(tmp_path / "c.yaml", "train:\n  max_iters: 100\n")
    cfg = load_config(path, ["train.max_iters=7", "train.deterministic=False",
                             "model.head.anchor_ratios=[1.0]", "train.base_lr=0.01"])
    assert (cfg.train.max_iters, cfg.train.deterministic) == (7, False)
    assert cfg.model.head.anchor_ratios == [1.0] and cfg.train.base_lr == 0.01
    with pytest.raises(ConfigError, match="expected key=value"):
        load_config(path, ["train.max_iters"])
    with pytest.raises(ConfigError, match="'train.max_itres'"):
        load_config(path, ["train.max_itres=3"])


@pytest.mark.parametrize("raw, fragment", [
    ({"model": {"head": {"num_stages": 1, "iou_mask": {"enabled": True}}}}, "num_stages: 2"),
    ({"model": {"head": {"representation": "point"}}}, "reg_loss: iou"),
    ({"model": {"head": {"stage1": {"assigner": {"type": "size_aware_threshold"}}}}},
     "stage 2 only"),
    ({"data": {"max_size": [1333]}}, "long_side, short_side"),
    ({"model": {"head": {"num_stages": 2, "stage2": {"assigner": {"type": "positive_region"}}}}},
     "stage 2 takes 'max_iou', 'size_aware_threshold' or 'atss'"),
    ({"model": {"head": {"num_stages": 2, "stage2": {"assigner": {"type": "region"}}}}},
     "stage 2 takes 'max_iou', 'size_aware_threshold' or 'atss'"),
])
def test_consistency_checks(raw, fragment):
    with pytest.raises(ConfigError, match=fragment):
        config_from_dict(raw, "x.yaml")


def test_dump_round_trip(tmp_path):
    cfg = load_config(write(tmp_path / "c.yaml", "train:\n  lr_steps: [3]\n"), ["train.seed=9"])
    dump_config(cfg, tmp_path / "out.yaml")
    again = load_config(tmp_path / "out.yaml")
    assert again.to_dict() == cfg.to_dict()
