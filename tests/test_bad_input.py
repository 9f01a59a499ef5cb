"""Bad input through the command line: one clear error or a counted skip, never a wrong number.

Each test builds one broken input in a tmp dir (a tiny COCO folder of six 128 x 96 PNGs, a config,
a checkpoint, a run directory), runs ``scrpn`` in-process, and asserts the exit code, the one
``scrpn: error:`` line (no traceback) and that nothing already written was lost. The cases are
those of the bad-input probe (issue 22, numbered as there); ``docs/bad-input.md`` is the table
of what the tool does with each class of input. Training runs use the dummy model of
``conftest.py`` (seconds), except where the real model is the point (pretrained weights).
"""
from __future__ import annotations

import dataclasses
import json
import math
import typing
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor, nn

import scrpn.cli as cli
from conftest import DummyProposalModel
from scrpn.config import Config, ConfigError, config_from_dict
from scrpn.data import CocoDetection
from scrpn.engine.checkpoint import load_checkpoint, save_checkpoint

W, H = 128, 96
NUM_IMAGES = 6

CONFIG = """\
name: bad_input
data: {{dataset: coco, root: {root}, max_size: [128, 128], size_divisor: 8, flip_prob: 0.0}}
train: {{batch_size: 2, base_batch_size: 2, base_lr: 0.01, max_iters: 3, warmup_iters: 1,
        lr_steps: [2], log_interval: 1}}
eval: {{timing_images: 1}}
"""


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------

def _box(index: int) -> list[float]:
    """Image ``index``'s object, xywh, well inside the 128 x 96 image."""
    return [10.0 + 8 * index, 12.0 + 4 * index, 40.0, 30.0]


def _coco_json(images: int = NUM_IMAGES) -> dict[str, Any]:
    return {
        "images": [{"id": i + 1, "file_name": f"{i}.png", "width": W, "height": H}
                   for i in range(images)],
        "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1, "bbox": _box(i),
                         "area": _box(i)[2] * _box(i)[3], "iscrowd": 0} for i in range(images)],
        "categories": [{"id": 1, "name": "box"}],
    }


def _png(path: Path, index: int) -> None:
    pixels = np.full((H, W, 3), 40, dtype=np.uint8)
    x, y, w, h = (int(v) for v in _box(index))
    pixels[y:y + h, x:x + w] = 220
    Image.fromarray(pixels).save(path)


def make_root(tmp_path: Path, edit: Optional[Callable[[dict], None]] = None,
              splits: tuple[str, ...] = ("train", "val")) -> Path:
    """A COCO 2017 layout under ``tmp_path/coco``; ``edit`` changes the json of ``splits``."""
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    for split in ("train", "val"):
        folder = root / f"{split}2017"
        folder.mkdir()
        for i in range(NUM_IMAGES):
            _png(folder / f"{i}.png", i)
        data = _coco_json()
        if edit is not None and split in splits:
            edit(data)
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(data))
    return root


def write_config(tmp_path: Path, root: Path) -> Path:
    path = tmp_path / "bad_input.yaml"
    path.write_text(CONFIG.format(root=root))
    return path


class PerfectProposals(nn.Module):
    """Proposes exactly the sample's (sanitised, resized) boxes; trains on a dummy loss."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(()))

    def forward(self, images: Tensor, targets: list[dict]) -> Any:
        if self.training:
            return {"loss_dummy": (self.weight - 0.5) ** 2 + 0.0 * images.mean()}
        return [{"boxes": t["boxes"].clone(), "scores": torch.ones(len(t["boxes"]))}
                for t in targets]


@pytest.fixture
def dummy_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: DummyProposalModel())


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """For inputs that must be refused before anything trains: starting a run fails the test
    at once (an empty config, for one, would otherwise train a full default run)."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a run was started on input that should have been refused")
    monkeypatch.setattr(cli, "new_trainer", refuse)


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def expect_error(argv: list[str], capsys: pytest.CaptureFixture, *fragments: str) -> str:
    """Exit 2, exactly one ``scrpn: error:`` line containing ``fragments``, no traceback."""
    code, _, err = run(argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith("scrpn: error:")]
    assert code == 2, err
    assert "Traceback" not in err and len(errors) == 1, err
    assert err.strip().splitlines()[-1] == errors[0]
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def train_args(cfg: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--config", cfg, "--out", out, "--no-progress", *extra]


# ----------------------------------------------------------------------------------------------
# 1. config values: ranges, and non-finite numbers in every float field
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["-1", "0"])
def test_1_grad_clip_must_be_positive(tmp_path, capsys, no_training, value):
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    expect_error(train_args(cfg, out, "--set", f"train.grad_clip={value}"), capsys,
                 f"--set train.grad_clip={value}:", "'train.grad_clip'", "greater than 0.0")
    assert not out.exists()


@pytest.mark.parametrize("item", ["model.test.nms_thr=.nan", "train.base_lr=.NaN",
                                  "train.base_lr=.inf", "train.grad_clip=-.inf"])
def test_1_nan_and_inf_are_refused_before_training(tmp_path, capsys, no_training, item):
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    key = item.split("=")[0]
    expect_error(train_args(cfg, out, "--set", item), capsys, f"'{key}'", "not a finite number")
    assert not out.exists()


def _float_fields(cls: type = Config, prefix: str = "") -> list[tuple[str, Any]]:
    """Every dotted key of the schema that holds floats, with a non-finite value to try there:
    float fields get NaN; list fields get their default with the first number made NaN."""
    found: list[tuple[str, Any]] = []
    hints = typing.get_type_hints(cls)
    defaults = cls()
    for f in dataclasses.fields(cls):
        key, hint = f"{prefix}{f.name}", hints[f.name]
        if dataclasses.is_dataclass(hint):
            found += _float_fields(hint, key + ".")
        elif hint in (float, Optional[float]):
            found.append((key, math.nan))
        elif hint is list:
            value = getattr(defaults, f.name)
            flat = value[0] if value and isinstance(value[0], list) else value
            if flat and isinstance(flat[0], float):
                flat[0] = math.nan
                found.append((key, value))
    return found


def _nested(key: str, value: Any) -> dict:
    raw: dict = {}
    node = raw
    *sections, last = key.split(".")
    for section in sections:
        node = node.setdefault(section, {})
    node[last] = value
    return raw


FLOAT_FIELDS = _float_fields()


def test_the_schema_walk_finds_the_float_fields():
    keys = {key for key, _ in FLOAT_FIELDS}
    assert {"train.base_lr", "train.grad_clip", "model.test.nms_thr", "data.flip_prob",
            "model.head.stage2.assigner.pos_iou_thr", "model.head.anchor_ratios",
            "detector.cascade_stds", "model.head.ga.anchoring_stds"} <= keys
    assert len(keys) > 50


@pytest.mark.parametrize("key, value", FLOAT_FIELDS, ids=[k for k, _ in FLOAT_FIELDS])
def test_1_every_float_field_rejects_non_finite_values(key, value):
    with pytest.raises(ConfigError, match=rf"'{key}' = .* is not a finite number"):
        config_from_dict(_nested(key, value), "x.yaml")
    if isinstance(value, float):
        for infinite in (math.inf, -math.inf):
            with pytest.raises(ConfigError, match="not a finite number"):
                config_from_dict(_nested(key, infinite), "x.yaml")


# ----------------------------------------------------------------------------------------------
# 2, 3, 4, 5. annotations: NaN boxes, missing area, what evaluation counts, the skip report
# ----------------------------------------------------------------------------------------------

def test_2_nan_in_a_bbox_names_the_annotation(tmp_path, capsys, dummy_model):
    def nan_box(data: dict) -> None:
        data["annotations"][3]["bbox"][0] = math.nan

    cfg, out = write_config(tmp_path, make_root(tmp_path, nan_box)), tmp_path / "run"
    expect_error(train_args(cfg, out), capsys, "instances_train2017.json", "annotation id 4",
                 "not finite")
    assert not (out / "latest.pth").exists()


def _drop_area(data: dict) -> None:
    for ann in data["annotations"]:
        del ann["area"]


def test_3_a_json_without_area_trains_and_evaluates(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: PerfectProposals())
    root = make_root(tmp_path, _drop_area)
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    code, stdout, err = run(train_args(cfg, out, "--dump-proposals"), capsys)
    assert code == 0, err
    assert "annotations without 'area': box w x h used" in err
    metrics = json.loads(stdout.strip().splitlines()[-1])
    assert metrics["AR100"] == pytest.approx(100.0) and metrics["AR_M"] == pytest.approx(100.0)
    # scoring the dumped file against the area-less json: exit 0, a note, the same numbers
    gt = root / "annotations" / "instances_val2017.json"
    code, stdout, err = run(["evaluate", "--proposals", out / "proposals.json",
                             "--annotations", gt], capsys)
    assert code == 0, err
    assert "6 annotations without 'area': box w x h used" in err
    again = json.loads(stdout.strip().splitlines()[-1])
    assert again["AR100"] == pytest.approx(100.0) and again["AR_M"] == pytest.approx(100.0)


def _sanitised_cases(data: dict) -> None:
    anns = data["annotations"]
    anns[0]["bbox"] = [100.0, 70.0, 60.0, 40.0]   # partly outside: clipped to [100, 70, 28, 26]
    anns[1]["bbox"] = [20.0, 20.0, 0.0, 10.0]     # zero width: skipped
    anns[2]["bbox"] = [300.0, 10.0, 20.0, 20.0]   # entirely outside: skipped
    anns.append({"id": 99, "image_id": 2, "category_id": 1, "bbox": [60.0, 40.0, 30.0, 30.0],
                 "area": 900.0, "iscrowd": 0})  # image 2 keeps a box


def test_4_5_evaluation_counts_what_the_loader_kept_and_train_reports_it(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.setattr("scrpn.build.build_model", lambda cfg: PerfectProposals())
    cfg, out = write_config(tmp_path, make_root(tmp_path, _sanitised_cases)), tmp_path / "run"
    code, stdout, err = run(train_args(cfg, out), capsys)
    assert code == 0, err
    # perfect proposals of the kept boxes find every object evaluation counts
    metrics = json.loads(stdout.strip().splitlines()[-1])
    assert metrics["AR100"] == pytest.approx(100.0) and metrics["AR1000"] == pytest.approx(100.0)
    # both loaders' skip reports are printed by `train`
    # image 3 lost its only box: dropped from training, kept (as a negative) for evaluation
    assert "instances_train2017.json: 5 images" in err and "instances_val2017.json: 6 images" in err
    assert "1 images without annotations (dropped" in err
    assert "1 images without annotations (kept)" in err
    assert err.count("1 boxes clipped to the image (kept)") == 2
    assert err.count("1 annotations skipped: box width or height <= 0") == 2
    assert err.count("1 annotations skipped: box entirely outside the image") == 2


def test_4_ground_truth_keeps_the_files_numbers(tmp_path):
    root = make_root(tmp_path, _sanitised_cases)
    ds = CocoDetection(root / "annotations" / "instances_val2017.json", root / "val2017")
    gt = ds.ground_truth()
    by_id = {a["id"]: a for a in gt["annotations"]}
    assert sorted(by_id) == [1, 4, 5, 6, 99]
    assert by_id[1]["bbox"] == [100.0, 70.0, 28.0, 26.0]          # clipped, as trained on
    assert by_id[1]["area"] == 1200.0                              # the file's area
    assert by_id[4]["bbox"] == _box(3) and by_id[99]["area"] == 900.0
    assert [img["id"] for img in gt["images"]] == [1, 2, 3, 4, 5, 6]


# ----------------------------------------------------------------------------------------------
# 6. an unreadable image met while training with loader workers
# ----------------------------------------------------------------------------------------------

def test_6_unreadable_image_in_a_worker_saves_and_names_the_file(tmp_path, capsys, dummy_model):
    root = make_root(tmp_path)
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    bad = root / "train2017" / "4.png"
    good = bad.read_bytes()
    bad.write_bytes(good[: len(good) // 2])
    line = expect_error(train_args(cfg, out, "--set", "data.num_workers=2"), capsys,
                        "4.png: image id 5: cannot read image", "saved", "--resume")
    assert "Original Traceback" not in line and "worker" not in line
    state = load_checkpoint(out / "latest.pth")
    assert f"training stopped at iteration {state['iteration']}:" in line
    assert not (out / "final.pth").exists()
    bad.write_bytes(good)  # fixed: the run continues where it stopped
    code, _, err = run(train_args(cfg, out, "--resume", "--set", "data.num_workers=2"), capsys)
    assert code == 0, err
    assert json.loads((out / "metrics.json").read_text())["iterations"] == 3


# ----------------------------------------------------------------------------------------------
# 7. what used to end in a traceback
# ----------------------------------------------------------------------------------------------

def test_7_pretrained_weights_that_are_not_weights(tmp_path, capsys):
    cfg = write_config(tmp_path, make_root(tmp_path))
    text = tmp_path / "weights.pth"
    text.write_text("not a state dict\n")
    expect_error(train_args(cfg, tmp_path / "run", "--set", f"model.backbone.pretrained={text}"),
                 capsys, "weights.pth")


def test_7_an_empty_training_set(tmp_path, capsys, dummy_model):
    def no_boxes(data: dict) -> None:
        data["annotations"] = []

    cfg = write_config(tmp_path, make_root(tmp_path, no_boxes, splits=("train",)))
    expect_error(train_args(cfg, tmp_path / "run"), capsys, "instances_train2017.json",
                 "no images left to train on")


def _set(path: str, value: Any) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        section, index, key = path.split(".")
        data[section][int(index)][key] = value
    return edit


@pytest.mark.parametrize("edit, fragments", [
    (_set("images.2.width", "abc"), ["image id 3", "width must be a positive whole number"]),
    (_set("images.1.id", [2]), ["images[1]: id must be an integer"]),
    (lambda d: d["categories"].append({"id": "2", "name": "other"}),
     ["categories[1]: id must be an integer"]),
    (_set("annotations.0.id", 0), ["annotation id 0: can never be matched"]),        # 11
    (_set("images.0.file_name", "/etc/hostname"), ["image id 1", "leaves the image folder"]),  # 12
    (_set("images.0.file_name", "../val2017/0.png"), ["leaves the image folder"]),
])
def test_7_11_12_bad_json_entries(tmp_path, capsys, dummy_model, edit, fragments):
    cfg, out = write_config(tmp_path, make_root(tmp_path, edit)), tmp_path / "run"
    expect_error(train_args(cfg, out), capsys, "instances_train2017.json", *fragments)
    assert not (out / "latest.pth").exists()


@pytest.mark.parametrize("text, fragments", [
    ("_base_: 5\n", ["'_base_' must be a file path"]),
    ("1: 2\n", ["key 1 in 'config' is not a name"]),
    ("train:\n  3: 4\n", ["key 3 in 'train' is not a name"]),
    ("", ["the config file is empty"]),                                                # 12
    ("# only a comment\n", ["the config file is empty"]),
    ("train:\n  max_iters: [1, 2\nmodel: {}\n", ["invalid YAML at line"]),              # 12
    ("data: {max_size: [1333, big]}\n", ["'data.max_size[1]' = 'big' has the wrong type"]),
    ("data: {max_size: [1333, 0]}\n", ["'data.max_size[1]' = 0 is below its minimum 1"]),
    ("model: {head: {anchor_ratios: [0.0]}}\n", ["'model.head.anchor_ratios[0]' = 0.0 must be"]),
    ("model: {head: {anchor_ratios: []}}\n", ["'model.head.anchor_ratios' must not be empty"]),
    ("train: {lr_steps: [x]}\n", ["'train.lr_steps[0]' = 'x' has the wrong type"]),
    ("train: {lr_steps: [1.5]}\n", ["'train.lr_steps[0]' = 1.5 has the wrong type"]),
    ("data: {val_limit: 0}\n", ["'data.val_limit' = 0 is below its minimum 1"]),        # 10
    ("data: {val_limit: -3}\n", ["'data.val_limit' = -3 is below its minimum 1"]),
    ("eval: {max_dets: [300, 1000]}\n", ["'eval.max_dets' must contain 100"]),          # 10
    ("eval: {max_dets: [0, 100]}\n", ["'eval.max_dets[0]' = 0 is below its minimum 1"]),
])
def test_7_10_12_bad_config_files(tmp_path, capsys, no_training, text, fragments):
    cfg, out = tmp_path / "c.yaml", tmp_path / "run"
    cfg.write_text(text)
    expect_error(train_args(cfg, out), capsys, "c.yaml", *fragments)
    assert not out.exists()


def test_7_a_config_that_is_not_utf8(tmp_path, capsys, no_training):
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    expect_error(train_args(cfg, tmp_path / "run"), capsys, "c.yaml", "not a UTF-8 text file")


def test_12_set_errors_name_the_set_item_not_the_file(tmp_path, capsys, no_training):
    cfg = write_config(tmp_path, make_root(tmp_path))
    line = expect_error(train_args(cfg, tmp_path / "run", "--set", "train.max_iters=0"), capsys,
                        "scrpn: error: --set train.max_iters=0: 'train.max_iters' = 0")
    assert "bad_input.yaml" not in line
    line = expect_error(train_args(cfg, tmp_path / "run", "--set", "train.max_iters=5",
                                   "--set", "train.lr_gamma=3"), capsys,
                        "--set train.lr_gamma=3:")
    # a bad value written in the file is still the file's
    cfg.write_text(cfg.read_text() + "model: {test: {nms_thr: 2.0}}\n")
    expect_error(train_args(cfg, tmp_path / "run", "--set", "train.max_iters=5"), capsys,
                 "bad_input.yaml: 'model.test.nms_thr' = 2.0 is above its maximum")


def test_7_an_extreme_aspect_ratio_is_a_counted_skip(tmp_path, capsys, dummy_model):
    def thin(data: dict) -> None:
        data["images"].append({"id": 7, "file_name": "thin.png", "width": 5000, "height": 1})
        data["annotations"].append({"id": 7, "image_id": 7, "category_id": 1,
                                    "bbox": [10.0, 0.0, 100.0, 1.0], "area": 100.0})

    root = make_root(tmp_path, thin)
    for split in ("train", "val"):
        Image.fromarray(np.zeros((1, 5000, 3), np.uint8)).save(root / f"{split}2017" / "thin.png")
    cfg, out = write_config(tmp_path, root), tmp_path / "run"
    code, _, err = run(train_args(cfg, out), capsys)
    assert code == 0, err
    assert err.count("1 images skipped: a side would be < 1 px after the resize") == 2


def test_7_a_checkpoint_whose_config_is_not_a_mapping(tmp_path, capsys):
    cfg = write_config(tmp_path, make_root(tmp_path))
    ckpt = save_checkpoint(tmp_path / "odd.pth", {"format": 1, "model": {}, "config": [1, 2]})
    expect_error(["evaluate", "--config", cfg, "--checkpoint", ckpt], capsys,
                 "odd.pth: not an scrpn checkpoint", "'config' is a list")


def test_7_an_output_folder_that_cannot_be_written(tmp_path, capsys, dummy_model, monkeypatch):
    cfg = write_config(tmp_path, make_root(tmp_path))
    a_file = tmp_path / "a_file"
    a_file.write_text("keep me\n")
    expect_error(train_args(cfg, a_file / "run"), capsys, "a_file/run: cannot write")
    assert a_file.read_text() == "keep me\n"

    def read_only(*args: Any, **kwargs: Any) -> None:  # root ignores chmod: fail like EACCES
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", read_only)
    expect_error(train_args(cfg, tmp_path / "ro"), capsys, "ro: cannot write the output directory",
                 "Permission denied")
    ckpt = save_checkpoint(tmp_path / "c.pth", {"format": 1, "model": {}, "config": {}})
    expect_error(["evaluate", "--config", cfg, "--checkpoint", ckpt, "--out", tmp_path / "ev"],
                 capsys, "ev: cannot write the output directory")


# ----------------------------------------------------------------------------------------------
# 8, 9, 12. finished runs, 16-bit images, stray temporaries
# ----------------------------------------------------------------------------------------------

def test_8_a_finished_run_is_never_overwritten(tmp_path, capsys, dummy_model):
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    out.mkdir()
    (out / "final.pth").write_bytes(b"weights of an earlier run")
    (out / "metrics.json").write_text('{"AR1000": 42.0}\n')
    expect_error(train_args(cfg, out), capsys, "holds final.pth and metrics.json", "--out")
    assert (out / "final.pth").read_bytes() == b"weights of an earlier run"
    assert (out / "metrics.json").read_text() == '{"AR1000": 42.0}\n'
    assert sorted(p.name for p in out.iterdir()) == ["final.pth", "metrics.json"]


def test_9_a_16_bit_png_keeps_its_grey_levels(tmp_path):
    root = make_root(tmp_path)
    levels = np.array([[0, 257 * 64], [257 * 128, 65535]], dtype=np.uint16)
    grey = np.kron(levels, np.ones((H // 2, W // 2), dtype=np.uint16))
    Image.fromarray(grey).save(root / "val2017" / "0.png")
    with Image.open(root / "val2017" / "0.png") as im:
        assert im.mode.startswith("I")  # really a 16-bit image
    ds = CocoDetection(root / "annotations" / "instances_val2017.json", root / "val2017",
                       max_size=None)
    array = ds.load_image(0)
    assert array.dtype == np.uint8 and array.shape == (H, W, 3)
    assert [array[0, 0, 0], array[0, -1, 1], array[-1, 0, 2], array[-1, -1, 0]] == [0, 64, 128, 255]


def test_12_stray_checkpoint_temporaries_are_removed(tmp_path, capsys, dummy_model):
    cfg, out = write_config(tmp_path, make_root(tmp_path)), tmp_path / "run"
    out.mkdir()
    stray = out / ".latest.pth.k1ll3d.tmp"
    stray.write_bytes(b"half a checkpoint")
    other = out / "notes.tmp"
    other.write_text("not ours\n")
    code, _, err = run(train_args(cfg, out), capsys)
    assert code == 0, err
    assert not stray.exists() and other.read_text() == "not ours\n"
    assert not list(out.glob(".*.tmp"))


def test_11_evaluate_refuses_annotation_id_zero(tmp_path, capsys):
    root = make_root(tmp_path, _set("annotations.0.id", 0))
    proposals = tmp_path / "p.json"
    proposals.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": _box(0),
                                      "score": 1.0}]))
    expect_error(["evaluate", "--proposals", proposals, "--annotations",
                  root / "annotations" / "instances_val2017.json"], capsys,
                 "instances_val2017.json: annotation id 0: can never be matched")
