"""Bad input left over from issue 34: DeepForest's source images, a config key given twice on
the command line, and input paths that exist but are not regular files.

(SIGTERM during ``scrpn evaluate`` is tested beside Ctrl-C in ``tests/test_bad_input_eval.py``.)
Every input is hand-made in ``tmp_path``; nothing trains. ``docs/bad-input.md`` lists the classes.
"""
from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from scrpn.config import ConfigError, load_config
from scrpn.data import deepforest as df
from scrpn.engine.checkpoint import CheckpointError, load_checkpoint
from scrpn.inputs import input_problem
from scrpn.models.backbones import _pretrained_path
from scrpn.models.weights import WeightsError, load_state_dict_file
from scrpn.viz.knobs import ParameterError, check_knobs
from scrpn.viz.sads_inspector import inspector_object
from test_bad_input import expect_error, run

REPO = Path(__file__).resolve().parents[1]
SMOKE = REPO / "configs" / "smoke" / "rpn.yaml"


# ----------------------------------------------------------------------------------------------
# 1. DeepForest's source images: every mode read as the COCO loader reads it; a bad file, a size
#    that disagrees with the xml or a box outside the image is one line naming file and source
# ----------------------------------------------------------------------------------------------

W, H = 48, 32  # one source image; val is its right quarter, x in [36, 48)


def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, image: Any = None,
                 boxes=((2, 2, 12, 12), (38, 10, 46, 30)), size=(W, H)) -> Path:
    """A DeepForest data folder with one source ``SITE_001`` (``image``: a PIL image, bytes, or
    None for a FIFO) and its Pascal VOC xml; ``find_deepforest_data`` points at it."""
    data = tmp_path / "pkg" / "data"
    data.mkdir(parents=True)
    path = data / "SITE_001.png"
    if image is None:
        os.mkfifo(path)
    elif isinstance(image, bytes):
        path.write_bytes(image)
    else:
        image.save(path)
    objects = "".join(f"<object><name>Tree</name><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
                      f"<xmax>{c}</xmax><ymax>{d}</ymax></bndbox></object>" for a, b, c, d in boxes)
    (data / "SITE_001.xml").write_text(
        f"<annotation><filename>SITE_001.png</filename><size><width>{size[0]}</width>"
        f"<height>{size[1]}</height><depth>3</depth></size>{objects}</annotation>")
    monkeypatch.setattr(df, "find_deepforest_data", lambda: data)
    return path


def val_tile(tmp_path: Path) -> np.ndarray:
    paths = df.prepare_deepforest(cache_dir=tmp_path / "cache")
    data = json.loads(paths["val"][0].read_text())
    assert [(i["width"], i["height"]) for i in data["images"]] == [(12, 32)]
    return np.asarray(Image.open(paths["val"][1] / data["images"][0]["file_name"]))


def _palette() -> Image.Image:
    im = Image.new("P", (W, H), 0)
    im.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    im.paste(1, (40, 0, W, H))  # the val tile's columns 4.. are entry 1
    return im


# mode, the source image, the val tile's expected pixel at (row 0, column 0) and (0, 6), by hand
MODES = [
    ("L", Image.new("L", (W, H), 77), (77, 77, 77), (77, 77, 77)),
    ("P", _palette(), (10, 20, 30), (200, 100, 50)),
    ("RGBA", Image.new("RGBA", (W, H), (9, 99, 199, 7)), (9, 99, 199), (9, 99, 199)),
    # 16-bit grey: round(v / 257); 128 * 257 = 32896 -> 128 (convert("RGB") gave 255)
    ("I;16", Image.fromarray(np.full((H, W), 32896, np.uint16)), (128, 128, 128), (128, 128, 128)),
]


@pytest.mark.parametrize("mode,image,first,later", MODES, ids=[m[0] for m in MODES])
def test_deepforest_reads_every_mode_as_the_coco_loader(tmp_path, monkeypatch, mode, image, first,
                                                        later):
    assert image.mode == mode
    fake_package(tmp_path, monkeypatch, image)
    tile = val_tile(tmp_path)
    assert tile.shape == (32, 12, 3)
    assert tuple(tile[0, 0]) == first and tuple(tile[0, 6]) == later


def test_deepforest_16_bit_levels_are_scaled_not_saturated(tmp_path, monkeypatch):
    levels = np.tile(np.array([0, 1000, 32896, 65535], np.uint16), (H, W // 4))  # columns cycle
    fake_package(tmp_path, monkeypatch, Image.fromarray(levels))
    tile = val_tile(tmp_path)  # columns 36.. start the cycle again (36 % 4 == 0)
    assert tile[0, :4, 0].tolist() == [0, 4, 128, 255]  # 1000 / 257 = 3.89 -> 4


def _png_bytes() -> bytes:
    path_image = Image.new("RGB", (W, H), (1, 2, 3))
    from io import BytesIO
    buffer = BytesIO()
    path_image.save(buffer, format="PNG")
    return buffer.getvalue()


BAD_SOURCES = {
    "truncated": (dict(image=_png_bytes()[:60]), "SITE_001.png", "cannot read image"),
    "not an image": (dict(image=b"hello, not a png\n"), "SITE_001.png",
                     "not in an image format PIL recognises"),
    "a FIFO": (dict(image=None), "SITE_001.png", "is a named pipe (FIFO), not a regular file"),
    "narrower than its xml": (dict(image=Image.new("RGB", (40, H))), "SITE_001.png",
                              "image is 40x32 (w x h) but its Pascal VOC xml says 48x32"),
    "a box outside the image": (dict(image=Image.new("RGB", (W, H)),
                                     boxes=((2, 2, 12, 12), (40, 20, 60, 31))), "SITE_001.xml",
                                "object 2: box (xmin, ymin, xmax, ymax) [40, 20, 60, 31] is not "
                                "inside the 48x32 (w x h) image"),
    "a box without area": (dict(image=Image.new("RGB", (W, H)), boxes=((5, 5, 5, 9),)),
                           "SITE_001.xml", "object 1: box (xmin, ymin, xmax, ymax) [5, 5, 5, 9] has no area"),
    "a box of NaN": (dict(image=Image.new("RGB", (W, H)), boxes=(("nan", 1, 4, 4),)),
                     "SITE_001.xml", "is not finite"),
    "a size of 0": (dict(image=Image.new("RGB", (W, H)), size=(0, H)), "SITE_001.xml",
                    "<size> must be whole numbers >= 1"),
}


@pytest.mark.parametrize("case", BAD_SOURCES)
def test_a_bad_deepforest_source_is_one_line_naming_file_and_image(tmp_path, monkeypatch, capsys,
                                                                   alarm, case):
    kwargs, file_name, problem = BAD_SOURCES[case]
    fake_package(tmp_path, monkeypatch, **kwargs)
    monkeypatch.setenv("SCRPN_DATA", str(tmp_path / "cache"))
    expect_error(["data", "stats", "--dataset", "deepforest"], capsys, file_name,
                 "image id SITE_001", problem)
    assert not list((tmp_path / "cache").rglob("instances_*.json"))  # no tile set was written


# ----------------------------------------------------------------------------------------------
# 2. A config key given twice on the command line: one usage error naming it and both values,
#    for every command that takes --set (nothing is read or run first: the config may not exist)
# ----------------------------------------------------------------------------------------------

TWICE = ["--set", "train.max_iters=5", "--set", "train.max_iters=7"]
COMMANDS = {
    "train": ["train", "--config", "missing.yaml", *TWICE],
    "evaluate": ["evaluate", "--config", "missing.yaml", "--checkpoint", "missing.pth", *TWICE],
    "data stats": ["data", "stats", "--config", "missing.yaml", *TWICE],
    "bench": ["bench", "--configs", "missing.yaml", *TWICE],
    "config show": ["config", "show", "missing.yaml", *TWICE],
    "study verify": ["study", "verify", "rpn", *TWICE],
    "one --set, two items": ["config", "show", "rpn", "--set", "train.max_iters=5",
                             "train.max_iters=7"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_key_given_twice_with_set_is_one_usage_error(command, capsys):
    expect_error(COMMANDS[command], capsys, "'train.max_iters' is given twice",
                 "--set train.max_iters=5", "--set train.max_iters=7")


@pytest.mark.parametrize("argv,fragments", [
    (["train", "--config", "missing.yaml", "--seed", "3", "--set", "train.seed=4"],
     ("'train.seed' is given twice", "--set train.seed=4", "--seed 3")),
    (["config", "show", "rpn", "--seed", "3", "--set", "train.seed=4"],
     ("'train.seed' is given twice", "--seed 3")),
    (["data", "stats", "--dataset", "coco", "--set", "data.dataset=deepforest"],
     ("'data.dataset' is given twice", "--dataset coco", "--set data.dataset=deepforest")),
    (["config", "show", "rpn", "--set", "train={max_iters: 5}", "--set", "train.max_iters=6"],
     ("'train' and 'train.max_iters' overlap", "--set train={max_iters: 5}",
      "--set train.max_iters=6")),
])
def test_an_option_and_a_set_item_for_one_key_are_refused(argv, fragments, capsys):
    expect_error(argv, capsys, *fragments)


@pytest.mark.parametrize("argv", [
    ["reproduce", "--only", "10", "-p", "gt=3", "-p", "gt=999", "--output-dir", "out"],
    ["reproduce", "--only", "10", "-p", "gt=3", "gt=999", "--output-dir", "out"],  # one -p, two items
    ["reproduce", "--only", "10", "-p", "gt=3", "-p", " gt=999", "--output-dir", "out"],
])
def test_a_notebook_parameter_given_twice_is_one_usage_error(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # nothing is run or written: refused before any notebook is read
    expect_error(argv, capsys, "'gt' is given twice", f"-p gt=3 and -p {argv[-3]}",
                 "give each parameter once")
    assert list(tmp_path.iterdir()) == []


def test_distinct_keys_still_apply_and_config_show_keeps_a_set_seed(capsys):
    code, out, err = run(["config", "show", str(SMOKE), "--set", "train.max_iters=5",
                          "train.base_lr=0.5", "train.seed=4"], capsys)
    assert code == 0, err
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert lines["train.max_iters"].startswith("train.max_iters: 5 ")
    assert lines["train.base_lr"].startswith("train.base_lr: 0.5 ")
    assert lines["train.seed"].startswith("train.seed: 4 ")  # was replaced by the default 0
    code, out, _ = run(["config", "show", "rpn", "--set", "train.seed=4"], capsys)
    assert code == 0 and "train.seed: 4 " in out
    code, out, _ = run(["config", "show", "rpn"], capsys)
    assert code == 0 and "train.seed: 0 " in out


# ----------------------------------------------------------------------------------------------
# 4. An input path that exists but is not a regular file is named as what it is, never "not
#    found", and a FIFO never blocks
# ----------------------------------------------------------------------------------------------

def non_regular(tmp_path: Path, kind: str, name: str) -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        server.close()  # the socket file stays
    return path


KINDS = {"fifo": "is a named pipe (FIFO), not a regular file",
         "directory": "is a directory, not a file", "socket": "is a socket, not a regular file"}


@pytest.mark.parametrize("kind", KINDS)
def test_input_problem_names_what_the_path_is(tmp_path, kind):
    assert input_problem(non_regular(tmp_path, kind, "x")) == KINDS[kind]
    assert input_problem(tmp_path / "absent") == "not found"
    (tmp_path / "file").write_text("")
    assert input_problem(tmp_path / "file") is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_checkpoint_that_is_not_a_file_is_named_as_what_it_is(tmp_path, capsys, alarm, kind):
    ckpt = non_regular(tmp_path, kind, "final.pth")
    expect_error(["evaluate", "--config", SMOKE, "--checkpoint", ckpt, "--no-progress"], capsys,
                 f"final.pth: checkpoint {KINDS[kind]}")
    with pytest.raises(CheckpointError, match=re.escape(f"checkpoint {KINDS[kind]}")):
        load_checkpoint(ckpt)


@pytest.mark.parametrize("kind", KINDS)
def test_a_config_that_is_not_a_file_is_named_as_what_it_is(tmp_path, capsys, alarm, kind):
    cfg = non_regular(tmp_path, kind, "row.yaml")
    expect_error(["train", "--config", cfg, "--out", tmp_path / "run"], capsys,
                 f"row.yaml: config file {KINDS[kind]}")
    assert not (tmp_path / "run").exists()
    base = tmp_path / "child.yaml"
    base.write_text(f"_base_: {cfg.name}\n")
    with pytest.raises(ConfigError, match=re.escape(f"row.yaml: config file {KINDS[kind]}")):
        load_config(base)  # a _base_ file too


@pytest.mark.parametrize("kind", KINDS)
def test_config_show_and_a_run_folders_latest_that_are_not_files_are_named(tmp_path, capsys, alarm,
                                                                          kind):
    cfg = non_regular(tmp_path, kind, "row.yaml")
    expect_error(["config", "show", cfg], capsys, f"row.yaml: config file {KINDS[kind]}")  # was
    run_dir = tmp_path / "run"                                                     # "no such file"
    run_dir.mkdir()
    non_regular(run_dir, kind, "latest.pth")
    for resume in (["--resume"], []):   # was "no checkpoint to resume from" / a run started over it
        expect_error(["train", "--config", SMOKE, "--out", run_dir, *resume], capsys,
                     f"latest.pth: checkpoint {KINDS[kind]}")
    assert sorted(p.name for p in run_dir.iterdir()) == ["latest.pth"]   # nothing else written
    expect_error(["config", "show", tmp_path / "absent.yaml"], capsys,
                 "absent.yaml: no such config file")   # a missing one is still "no such"


@pytest.mark.parametrize("kind", KINDS)
def test_weights_and_annotations_that_are_not_files_are_named(tmp_path, capsys, alarm, kind):
    weights = non_regular(tmp_path, kind, "w.pth")
    with pytest.raises(WeightsError, match=re.escape(f"w.pth: weights file {KINDS[kind]}")):
        load_state_dict_file(weights)
    with pytest.raises(WeightsError, match=re.escape(f"w.pth: pretrained weights file {KINDS[kind]}")):
        _pretrained_path("mobilenet_v2", weights)  # model.backbone.pretrained: <path>
    gt = non_regular(tmp_path, kind, "gt.json")
    proposals = tmp_path / "p.json"
    proposals.write_text("[]")
    expect_error(["evaluate", "--proposals", proposals, "--annotations", gt], capsys,
                 f"gt.json: annotation file {KINDS[kind]}")


def test_a_missing_checkpoint_is_still_not_found(tmp_path, capsys):
    expect_error(["evaluate", "--config", SMOKE, "--checkpoint", tmp_path / "x.pth"], capsys,
                 "x.pth: checkpoint not found")
    torch.save({"format": 1, "model": {}, "config": {}}, tmp_path / "ok.pth")
    assert load_checkpoint(tmp_path / "ok.pth")["format"] == 1


# ----------------------------------------------------------------------------------------------
# 5. A notebook's teaching knob out of range or of the wrong type (`-p gt=999`, `-p k=0`): one
#    usage error naming the notebook, the parameter, the value and the valid range, before any
#    kernel starts; run in Jupyter, notebook 10's first code cell raises the same message
# ----------------------------------------------------------------------------------------------

NOTEBOOK_10 = "10_sads_inspector"
GOOD_10 = dict(image_index=0, gt=0, k=1, sigma=1.0, num_levels=5, n_images=1)   # each at a bound
OWN = " (or None: the notebook's own choice)"
BAD_KNOBS = [  # notebook, name, value, what it must be (written from the knobs' declared ranges)
    (NOTEBOOK_10, "gt", -1, "expected a whole number >= 0" + OWN),
    (NOTEBOOK_10, "gt", 1.5, "expected a whole number >= 0" + OWN),
    (NOTEBOOK_10, "gt", True, "expected a whole number >= 0" + OWN),      # a bool is no index
    (NOTEBOOK_10, "image_index", "three", "expected a whole number >= 0" + OWN),
    (NOTEBOOK_10, "k", 0, "expected a whole number >= 1" + OWN),
    (NOTEBOOK_10, "sigma", 0.0, "expected a number in (0, 1]" + OWN),
    (NOTEBOOK_10, "sigma", 1.01, "expected a number in (0, 1]" + OWN),
    (NOTEBOOK_10, "sigma", float("nan"), "expected a number in (0, 1]" + OWN),
    (NOTEBOOK_10, "num_levels", 6, "expected a whole number in 1 .. 5" + OWN),
    (NOTEBOOK_10, "n_images", 0, "expected a whole number >= 1"),
    (NOTEBOOK_10, "n_images", None, "expected a whole number >= 1"),   # not optional
    ("11_teaching_weak_correlations", "nms_thr", 0, "expected a number in (0, 1]"),
    ("11_teaching_weak_correlations", "near_iou", "high", "expected a number in (0, 1]"),
    ("11_teaching_weak_correlations", "top_k", 2.0, "expected a whole number >= 1"),
]


def test_knobs_at_their_bounds_pass():
    check_knobs(NOTEBOOK_10, GOOD_10)
    check_knobs(NOTEBOOK_10, dict(image_index=None, gt=None, k=None, sigma=None, num_levels=None,
                                  not_a_knob=-5))   # None: the notebook's own; others not its
    check_knobs("11_teaching_weak_correlations", dict(image_index=None, near_iou=1, nms_thr=0.001,
                                                      top_k=1))


@pytest.mark.parametrize("notebook,name,value,problem", BAD_KNOBS,
                         ids=[f"{n[:2]}-{k}={v}" for n, k, v, _ in BAD_KNOBS])
def test_a_bad_knob_names_itself_its_value_and_its_range(notebook, name, value, problem):
    with pytest.raises(ParameterError) as caught:
        check_knobs(notebook, {**(GOOD_10 if notebook == NOTEBOOK_10 else {}), name: value})
    assert str(caught.value) == f"{name} = {value!r}: {problem}"
    assert (caught.value.name, caught.value.problem) == (name, problem)


def _val(*images: tuple[list, list]) -> list:
    """A stand-in validation set: (image, target) pairs of xyxy boxes and crowd flags."""
    return [(None, {"boxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                    "iscrowd": torch.tensor(crowd, dtype=torch.int64)}) for boxes, crowd in images]


# image 0: one object and a crowd box; 1: a 40 x 4 stick (aspect 10, 160 px²) and a 10 x 10
# square; 2: a 12 x 12 square; 3: no objects. Most slender of area >= 64: image 1, object 0.
VAL = _val(([[0, 0, 10, 10], [0, 0, 30, 30]], [0, 1]), ([[0, 0, 40, 4], [5, 5, 15, 15]], [0, 0]),
           ([[1, 1, 13, 13]], [0]), ([], []))


def test_inspector_object_checks_the_image_and_the_object_against_the_data():
    assert inspector_object(VAL) == (1, 0)                      # the most slender example
    assert inspector_object(VAL, gt=1) == (1, 1)
    assert inspector_object(VAL, image_index=2) == (2, 0)
    assert inspector_object(VAL, image_index=0, gt=0) == (0, 0)
    cases = [(dict(image_index=4), "image_index = 4: expected a whole number in 0 .. 3 (the "
                                    "validation set has 4 images)"),
             (dict(image_index=0, gt=1), "gt = 1: expected a whole number in 0 .. 0 (validation "
                                         "image 0 has 1 object(s))"),    # the crowd box is no object
             (dict(gt=2), "gt = 2: expected a whole number in 0 .. 1 (validation image 1 has 2 "
                          "object(s))"),
             (dict(image_index=3, gt=0), "gt = 0: validation image 3 has no objects"),
             (dict(gt=-2), "gt = -2: expected a whole number >= 0")]
    for kwargs, message in cases:
        with pytest.raises(ParameterError) as caught:
            inspector_object(VAL, **kwargs)
        assert str(caught.value).startswith(message), str(caught.value)


def test_teaching_image_checks_the_index_against_the_data():
    from scrpn.viz.teaching import teaching_image

    assert teaching_image(VAL, 3) == 3
    assert teaching_image(VAL, min_aspect=3.0, min_objects=2) == 1   # the first with a slender object
    assert teaching_image(VAL, min_aspect=3.0, min_objects=3) == 0   # none qualifies: the first image
    for value, message in ((4, "image_index = 4: expected a whole number in 0 .. 3 (the validation set "
                               "has 4 images)"), (-1, "image_index = -1: expected a whole number >= 0"),
                           (1.0, "image_index = 1.0: expected a whole number >= 0")):
        with pytest.raises(ParameterError) as caught:
            teaching_image(VAL, value)
        assert str(caught.value).startswith(message), str(caught.value)


@pytest.mark.parametrize("argv,fragments", [
    (["--only", "10", "-p", "k=0"],
     ("10_sads_inspector.py: -p k=0: expected a whole number >= 1",)),
    (["--only", "10", "-p", "n_images=many"],
     ("10_sads_inspector.py: -p n_images=many: expected a whole number >= 1",)),
    (["--only", "11", "-p", "nms_thr=1.5"],
     ("11_teaching_weak_correlations.py: -p nms_thr=1.5: expected a number in (0, 1]",)),
    # the mini profile's validation set: 500 images (docs/configs.md's data card)
    (["--only", "10", "-p", "image_index=500"],
     ("10_sads_inspector.py: -p image_index=500: expected a whole number in 0 .. 499 (the "
      "validation set has 500 images)",)),
    (["--only", "11", "-p", "image_index=500"],
     ("11_teaching_weak_correlations.py: -p image_index=500: expected a whole number in 0 .. 499 (the "
      "validation set has 500 images)",)),
    (["--only", "10", "-p", "gt=999"],
     ("10_sads_inspector.py: -p gt=999: expected a whole number in 0 .. ", "(validation image ")),
])
def test_reproduce_refuses_a_bad_knob_before_any_kernel(argv, fragments, tmp_path, capsys):
    out = tmp_path / "out"
    expect_error(["reproduce", "--no-train", "--notebooks", REPO / "notebooks", "--output-dir", out,
                  *argv], capsys, *fragments)
    assert not out.exists()   # no kernel ran, nothing was written
