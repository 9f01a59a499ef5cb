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


@pytest.mark.parametrize("item, fragment", [
    ("train.deterministic=yes", "'train.deterministic' has the wrong type: 'yes' (expected bool)"),
    ("model.head.iou_mask.enabled=on", "has the wrong type: 'on' (expected bool)"),
    ("train.max_iters=1:30", "'train.max_iters' has the wrong type: '1:30' (expected int)"),
    ("train.max_iters=1_000", "has the wrong type: '1_000' (expected int)"),
    ("train.max_iters=!!int abc", "cannot parse the value: cannot read a value: invalid literal"),
    ("name=!!timestamp junk", "cannot read a value"),
])
def test_yaml_11_look_alikes_are_not_numbers_or_booleans(tmp_path, capsys, no_training, item,
                                                         fragment):
    """YAML 1.1 reads yes / on as true, 1:30 as 90 and 010 as 8; the loader reads YAML 1.2's
    core schema, so these reach the type check as strings (or fail to parse)."""
    cfg = write_config(tmp_path, make_root(tmp_path))
    expect_error(train_args(cfg, tmp_path / "run", "--set", item), capsys, f"--set {item}:",
                 fragment)


def test_yaml_12_scalars():
    assert parse_override("train.max_iters=010")[1] == 10            # not octal 8
    assert parse_override("name=2026-12-05")[1] == "2026-12-05"      # not a date
    assert parse_override("train.base_lr=.5")[1] == 0.5
    assert parse_override("train.deterministic=False")[1] is False
    assert parse_override("data.val_limit=~")[1] is None


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


# ----------------------------------------------------------------------------------------------
# checkpoints with garbage in them, and --resume past the run's end (issue 34, tracebacks list
# and silently-wrong item 8)
# ----------------------------------------------------------------------------------------------

def _trained_run(tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str) -> tuple[Path, Path]:
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    code, _, err = run(train_args(cfg, out, *extra), capsys)
    assert code == 0, err
    return cfg, out


@pytest.mark.parametrize("key, value, fragment", [
    ("iteration", -5, "'iteration' must be a whole number >= 0, got '-5'"),
    ("iteration", "abc", "'iteration' must be a whole number >= 0, got 'abc'"),
    ("iteration", 2.5, "'iteration' must be a whole number >= 0, got '2.5'"),
    ("iteration", True, "'iteration' must be a whole number >= 0, got 'True'"),
    ("rng", "garbage", "'rng' is not a valid random-number state"),
    ("rng", {"torch": "x"}, "'rng' is not a valid random-number state"),
    ("rng", {"torch": None, "python": [1]}, "'rng' is not a valid random-number state"),
    ("train_seconds", "abc", "'train_seconds' must be a number of seconds >= 0"),
    ("rng", None, "'rng' is not a valid random-number state"),
    ("optimizer", "x", "does not fit the model"),
    ("optimizer", {"state": 5, "param_groups": "x"}, "does not fit the model"),
    ("model", {"conv.weight": "x"}, "does not fit the model"),
    ("provenance", ["x"], "'provenance' must be a list of mappings"),
])
def test_a_checkpoint_with_garbage_is_one_line(tmp_path, capsys, dummy_model, key, value,
                                               fragment):
    from scrpn.engine.checkpoint import load_checkpoint, save_checkpoint

    cfg, out = _trained_run(tmp_path, capsys)
    latest = out / "latest.pth"
    state = load_checkpoint(latest)
    if key == "rng" and isinstance(value, dict) and "python" not in value:
        value = {**state["rng"], **value}
    state[key] = value
    save_checkpoint(latest, state)
    expect_error(train_args(cfg, out, "--resume"), capsys, f"{latest}: ", fragment)


def test_resume_past_the_end_is_refused_and_changes_nothing(tmp_path, capsys, dummy_model):
    cfg, out = _trained_run(tmp_path, capsys, "--set", "train.max_iters=6")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    expect_error(train_args(cfg, out, "--resume", "--set", "train.max_iters=2"), capsys,
                 f"{out / 'latest.pth'}: the run is at iteration 6, past the 2 iterations that "
                 "'train.max_iters' now asks for")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before   # config.yaml included
    # the same run extended is fine
    code, _, err = run(train_args(cfg, out, "--resume", "--set", "train.max_iters=7"), capsys)
    assert code == 0 and "at iteration 6/7" in err, err


# ----------------------------------------------------------------------------------------------
# a full disk while writing a checkpoint (issue 34, tracebacks list)
# ----------------------------------------------------------------------------------------------

def test_a_full_disk_while_checkpointing_is_one_line_and_keeps_the_last_checkpoint(
        tmp_path, capsys, dummy_model, monkeypatch):
    import errno

    import torch

    from scrpn.engine.checkpoint import load_checkpoint

    real_save, calls = torch.save, []

    def full_disk(obj: Any, stream: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(obj.get("iteration"))
        if len(calls) == 3:   # latest at 1, latest at 2, then the end-of-run latest at 3
            stream.write(b"half a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(obj, stream, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_disk)
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    expect_error(train_args(cfg, out, "--set", "train.checkpoint_interval=1"), capsys,
                 "latest.pth", "No space left on device")
    assert calls == [1, 2, 3]
    assert load_checkpoint(out / "latest.pth")["iteration"] == 2
    assert not (out / "final.pth").exists() and not list(out.glob(".*.tmp"))
    monkeypatch.setattr(torch, "save", real_save)   # space again: the run goes on
    code, _, err = run(train_args(cfg, out, "--resume", "--set", "train.checkpoint_interval=1"),
                       capsys)
    assert code == 0 and "at iteration 2/3" in err, err
    assert load_checkpoint(out / "final.pth")["iteration"] == 3


def test_a_full_disk_writing_final_pth(tmp_path, capsys, dummy_model, monkeypatch):
    import errno

    import torch

    real_save = torch.save

    def full_disk(obj: Any, stream: Any, *args: Any, **kwargs: Any) -> None:
        if full_disk.calls == 1:        # latest.pth written, then final.pth: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        full_disk.calls += 1
        real_save(obj, stream, *args, **kwargs)

    full_disk.calls = 0
    monkeypatch.setattr(torch, "save", full_disk)
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    expect_error(train_args(cfg, out), capsys, "final.pth", "No space left on device")
    assert (out / "latest.pth").is_file() and not (out / "final.pth").exists()


# ----------------------------------------------------------------------------------------------
# --device (issue 34, tracebacks list)
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("device, cuda, fragment", [
    ("foo", False, "--device foo: not a torch device"),
    ("cuda", False, "--device cuda: no CUDA GPU is available on this machine"),
    ("cuda:0", False, "--device cuda:0: no CUDA GPU is available"),
    ("cuda:7", True, "--device cuda:7: this machine has 1 CUDA GPU(s)"),
    ("meta", False, "--device meta: scrpn runs on cpu or cuda, not meta"),
    ("", False, "--device : not a torch device"),
])
def test_a_device_this_machine_lacks_is_one_line(tmp_path, capsys, no_training, monkeypatch,
                                                 device, cuda, fragment):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1 if cuda else 0)
    cfg = write_config(tmp_path, make_root(tmp_path))
    expect_error(train_args(cfg, tmp_path / "run", "--device", device), capsys, fragment)
    ckpt = tmp_path / "c.pth"
    ckpt.write_bytes(b"not read")
    expect_error(["evaluate", "--config", cfg, "--checkpoint", ckpt, "--device", device], capsys,
                 fragment)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------------------------
# scrpn bench's arguments, checked before the benchmark runs (issue 34, tracebacks list)
# ----------------------------------------------------------------------------------------------

@pytest.fixture
def no_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the benchmark ran on arguments that should have been refused")
    monkeypatch.setattr("scrpn.engine.bench.benchmark", refuse)


@pytest.mark.parametrize("args, fragment", [
    (["--rounds", "0"], "--rounds 0: must be at least 1"),
    (["--iters", "0"], "--iters 0: must be at least 1"),
    (["--iters", "-3"], "--iters -3: must be at least 1"),
    (["--warmup", "-1"], "--warmup -1: must be at least 0"),
    (["--input-size", "0", "0"], "--input-size 0 0: both sides must be at least 1 pixel"),
    (["--input-size", "512", "-5"], "--input-size 512 -5: both sides"),
])
def test_bench_numbers_are_checked_first(tmp_path, capsys, no_bench, args, fragment):
    expect_error(["bench", "--configs", ROOT / "configs/smoke/rpn.yaml", "--out",
                  tmp_path / "speed.json", *args], capsys, fragment)
    assert not (tmp_path / "speed.json").exists()


def test_bench_output_that_cannot_be_written_is_refused_first(tmp_path, capsys, no_bench):
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    expect_error(["bench", "--configs", ROOT / "configs/smoke/rpn.yaml", "--out",
                  a_file / "speed.json"], capsys, "a_file: cannot write the output directory")
    expect_error(["bench", "--configs", ROOT / "configs/smoke/rpn.yaml", "--out", tmp_path],
                 capsys, f"--out {tmp_path}: is a directory")
    assert a_file.read_text() == "keep me\n"


# ----------------------------------------------------------------------------------------------
# batches that cannot fit in memory (issue 34, tracebacks list)
# ----------------------------------------------------------------------------------------------

def test_padded_sizes_and_the_estimate_by_hand(tmp_path):
    from scrpn.engine.memory_estimate import batch_bytes, machine_memory_bytes, padded_input_hw

    coco = {"dataset": "coco", "max_size": [20000, 20000]}
    cfg = config_from_dict({"data": coco, "train": {"batch_size": 2}})
    assert padded_input_hw(cfg) == (20000, 20000)            # 20000 = 625 x 32
    # 2 images x 20000 x 20000 pixels x (3 channels x 4 bytes + 100 bytes kept per pixel)
    assert batch_bytes(cfg, 100.0) == 2 * 20000 * 20000 * 112 == 89_600_000_000
    cfg = config_from_dict({"data": {"dataset": "coco", "max_size": [1333, 800]}})
    assert padded_input_hw(cfg) == (800, 1344)               # 1333 -> 42 x 32 = 1344
    cfg = config_from_dict({"data": {"dataset": "coco", "max_size": [128, 128],
                                     "size_divisor": 30000}})
    assert padded_input_hw(cfg) == (30000, 30000)
    cfg = config_from_dict({"data": {"image_size": 320, "size_divisor": 96}})
    assert padded_input_hw(cfg) == (384, 384)                # 320 -> 4 x 96
    assert padded_input_hw(cfg, (10, 100)) == (96, 192)
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemFree:  5 kB\nMemTotal:       2048 kB\n")
    assert machine_memory_bytes(meminfo) == 2048 * 1024
    assert machine_memory_bytes(tmp_path / "missing") > 0  # os.sysconf's answer


def test_a_batch_beyond_memory_is_refused_with_the_estimate(monkeypatch):
    from scrpn.engine import memory_estimate
    from scrpn.engine.memory_estimate import check_batch_fits

    monkeypatch.setattr(memory_estimate, "saved_bytes_per_pixel", lambda cfg: 500.0)
    cfg = config_from_dict({"data": {"dataset": "coco", "max_size": [128, 128],
                                     "size_divisor": 30000}, "train": {"batch_size": 2}})
    # 2 x 30000^2 x (12 + 500) bytes = 921.6e9 bytes = 858.3 GiB; input 2 x 30000^2 x 12 = 20.1 GiB
    with pytest.raises(ConfigError, match=r"c.yaml: a training batch of 2 padded 30000 x 30000 "
                       r"images needs about 858.3 GiB \(input 20.1 GiB .*more than this "
                       r"machine's 64.0 GiB of memory"):
        check_batch_fits(cfg, "c.yaml", total=64 * 2**30)
    assert check_batch_fits(cfg, "c.yaml", total=1000 * 2**30) == 921_600_000_000
    small = config_from_dict({"data": {"image_size": 64}})   # 4 x 64 x 64 x 12 bytes: not measured
    monkeypatch.setattr(memory_estimate, "saved_bytes_per_pixel", None)
    assert check_batch_fits(small, "c.yaml", total=2**30) == 4 * 64 * 64 * 12


def test_max_size_20000_is_refused_before_training(tmp_path, capsys, no_training, monkeypatch):
    from scrpn.engine import memory_estimate

    monkeypatch.setattr(memory_estimate, "machine_memory_bytes", lambda: 64 * 2**30)
    cfg = write_config(tmp_path, make_root(tmp_path))
    line = expect_error(train_args(cfg, tmp_path / "run", "--device", "cpu", "--set",
                                   "data.max_size=[20000,20000]"),
                        capsys, "bad_input.yaml: a training batch of 2 padded 20000 x 20000 images "
                        "needs about", "(input 8.9 GiB and the backbone's activations)",
                        "lower 'data.max_size', 'data.size_divisor' or 'train.batch_size'")
    assert "more than this machine's 64.0 GiB of memory" in line


def test_bench_input_size_beyond_memory_is_refused_first(tmp_path, capsys, no_bench,
                                                        monkeypatch):
    from scrpn.engine import memory_estimate

    monkeypatch.setattr(memory_estimate, "saved_bytes_per_pixel", lambda cfg: 1000.0)
    monkeypatch.setattr(memory_estimate, "machine_memory_bytes", lambda: 16 * 2**30)
    expect_error(["bench", "--configs", ROOT / "configs/smoke/rpn.yaml", "--input-size", "40000",
                  "40000", "--out", tmp_path / "speed.json"], capsys,
                 "padded 40000 x 40000 images", "lower --input-size")
    assert not (tmp_path / "speed.json").exists()


# ----------------------------------------------------------------------------------------------
# every PIL mode the image loader can meet (issue 34, silently-wrong item 5)
# ----------------------------------------------------------------------------------------------

def _image(mode: str, pixels: list) -> "Image.Image":
    """A 1-row image of ``mode`` holding ``pixels``."""
    from PIL import Image

    image = Image.new(mode, (len(pixels), 1))
    if mode in ("P", "PA"):
        image.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    for x, value in enumerate(pixels):
        image.putpixel((x, 0), value)
    return image


@pytest.mark.parametrize("mode, pixels, expected", [
    ("1", [0, 1], [(0, 0, 0), (255, 255, 255)]),
    ("L", [0, 100, 255], [(0, 0, 0), (100, 100, 100), (255, 255, 255)]),
    ("P", [0, 1], [(10, 20, 30), (200, 100, 50)]),                  # the palette's colours
    ("PA", [(1, 0)], [(200, 100, 50)]),                             # colour kept, alpha dropped
    ("RGB", [(1, 2, 3)], [(1, 2, 3)]),
    ("RGBX", [(1, 2, 3, 0)], [(1, 2, 3)]),
    ("RGBA", [(10, 20, 30, 0), (10, 20, 30, 255)], [(10, 20, 30), (10, 20, 30)]),
    ("LA", [(77, 0)], [(77, 77, 77)]),
    ("RGBa", [(100, 50, 20, 128)], [(199, 99, 39)]),  # unpremultiplied: v * 255 // 128
    ("CMYK", [(0, 0, 0, 0), (0, 0, 0, 255), (255, 0, 0, 0)],
     [(255, 255, 255), (0, 0, 0), (0, 255, 255)]),                  # white, black, cyan
    ("YCbCr", [(255, 128, 128), (0, 128, 128)], [(255, 255, 255), (0, 0, 0)]),
    ("HSV", [(0, 255, 255), (0, 0, 255)], [(255, 0, 0), (255, 255, 255)]),   # red, white
    ("I;16", [0, 257 * 64, 65535], [(0, 0, 0), (64, 64, 64), (255, 255, 255)]),
    ("I;16B", [257 * 100], [(100, 100, 100)]),
    ("I", [0, 257 * 100, 65535], [(0, 0, 0), (100, 100, 100), (255, 255, 255)]),
    # float: white is 1 for values in [0, 1], else 255, else 65535; round(v * 255 / white)
    ("F", [0.0, 0.5, 1.0], [(0, 0, 0), (128, 128, 128), (255, 255, 255)]),   # 127.5 -> 128
    ("F", [0.0, 100.4, 200.0], [(0, 0, 0), (100, 100, 100), (200, 200, 200)]),
    ("F", [1000.0, 65535.0], [(4, 4, 4), (255, 255, 255)]),                   # 3.89 -> 4
])
def test_every_pil_mode_reads_as_its_colours(mode, pixels, expected):
    from scrpn.data.coco import read_rgb

    array = read_rgb(_image(mode, pixels))
    assert array.dtype.name == "uint8" and array.shape == (1, len(pixels), 3)
    assert [tuple(int(v) for v in px) for px in array[0]] == expected


def test_lab_reads_as_its_colours():
    from scrpn.data.coco import read_rgb

    array = read_rgb(_image("LAB", [(255, 128, 128), (0, 128, 128)]))  # L* 100 and 0, a* = b* = 0
    assert array[0, 0].min() >= 250 and array[0, 1].max() <= 5       # white and black


@pytest.mark.parametrize("mode, pixels, fragment", [
    ("I", [0, 70000], "32-bit integer image (mode I) with values in [0, 70000]"),
    ("I", [-1, 5], "with values in [-1, 5]"),
    ("F", [0.0, float("nan")], "32-bit float image (mode F) with NaN or infinite values"),
    ("F", [0.0, float("inf")], "NaN or infinite"),
    ("F", [-0.5, 0.5], "32-bit float image (mode F) with values in [-0.5, 0.5]"),
    ("F", [0.0, 70000.0], "with values in [0, 70000]"),
    ("La", [(1, 2)], "image mode 'La' is not supported"),
])
def test_pil_modes_without_a_defined_reading_are_refused(mode, pixels, fragment):
    from scrpn.data.coco import read_rgb

    with pytest.raises(ValueError, match=re_escape(fragment)):
        read_rgb(_image(mode, pixels))


def re_escape(text: str) -> str:
    import re
    return re.escape(text)


def test_a_float_tiff_is_not_read_as_black(tmp_path, capsys, dummy_model):
    import numpy as np
    from PIL import Image

    from scrpn.data import CocoDetection

    root = make_root(tmp_path)
    levels = np.linspace(0.0, 1.0, 128 * 96, dtype=np.float32).reshape(96, 128)
    Image.fromarray(levels, mode="F").save(root / "val2017" / "0.png", format="TIFF")
    with Image.open(root / "val2017" / "0.png") as im:
        assert im.mode == "F"
    ds = CocoDetection(root / "annotations" / "instances_val2017.json", root / "val2017",
                       max_size=None)
    array = ds.load_image(0)
    assert array[0, 0, 0] == 0 and array[-1, -1, 2] == 255 and 120 <= array.mean() <= 135
    # a float image without a defined white stops the run naming the file and the image id
    Image.fromarray(levels * 1e6, mode="F").save(root / "train2017" / "2.png", format="TIFF")
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    expect_error(train_args(cfg, out), capsys, "2.png: image id 3: cannot read image",
                 "32-bit float image (mode F) with values in [0, 1e+06]")


def test_data_stats_names_the_set_item(capsys):
    expect_error(["data", "stats", "--set", "data.image_size=5"], capsys,
                 "scrpn: error: --set data.image_size=5: 'data.image_size' = 5 is below")


@pytest.mark.parametrize("weights", [{"conv.weight": "x"}, {"fc.bias": [1.0]}, {"fc.weight": None}])
def test_evaluate_a_checkpoint_whose_weights_are_not_tensors(tmp_path, capsys, dummy_model,
                                                             weights):
    from scrpn.engine.checkpoint import load_checkpoint, save_checkpoint

    cfg, out = _trained_run(tmp_path, capsys)
    state = load_checkpoint(out / "final.pth")
    state["model"] = {**state["model"], **weights}
    save_checkpoint(out / "final.pth", state)
    expect_error(["evaluate", "--config", cfg, "--checkpoint", out / "final.pth"], capsys,
                 "final.pth: does not fit the model of")


def test_the_largest_layer_of_mobilenet_v2_by_hand():
    """MobileNetV2's largest layer output is block 2's expansion: 16 x 6 = 96 channels at stride
    2, i.e. 96 / 4 floats = 96 bytes per input pixel (the smoke config's backbone)."""
    from scrpn.engine.memory_estimate import largest_output_bytes_per_pixel

    cfg = load_config(ROOT / "configs/smoke/rpn.yaml")
    assert cfg.model.backbone.name == "mobilenet_v2"
    assert largest_output_bytes_per_pixel(cfg) == 96.0


def test_evaluate_refuses_an_image_beyond_memory_first(tmp_path, capsys, monkeypatch):
    from scrpn.engine import memory_estimate

    monkeypatch.setattr(memory_estimate, "machine_memory_bytes", lambda: 64 * 2**30)
    cfg = write_config(tmp_path, make_root(tmp_path))
    ckpt = tmp_path / "c.pth"
    ckpt.write_bytes(b"never read")
    # one 30000 x 30000 image: 9e8 pixels x (12 + 96) bytes = 90.5 GiB; input 9e8 x 12 = 10.1 GiB
    expect_error(["evaluate", "--config", cfg, "--checkpoint", ckpt, "--device", "cpu", "--set",
                  "data.size_divisor=30000"], capsys, "bad_input.yaml: evaluating one padded "
                 "30000 x 30000 image needs at least 90.5 GiB (input 10.1 GiB",
                 "lower 'data.max_size', 'data.size_divisor'")
