"""CocoDetection validation, the common sample format, and the pure transforms (hand-worked numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scrpn.data import CocoDetection, DataError, default_coco_paths
from scrpn.data.coco import sanitize_box
from scrpn.data.transforms import (clip_boxes, flip_decision, hflip_boxes, hflip_image, make_sample,
                                   rescaled_shape, resize_boxes, resize_keep_ratio)


# ----------------------------------------------------------------------------- transforms
def test_keep_ratio_scale_hand_worked():
    assert resize_keep_ratio((480, 640), (1333, 800)) == pytest.approx(800 / 480)  # 1.6667
    assert rescaled_shape((480, 640), 800 / 480) == (800, 1067)
    # portrait image: same rule, long side is h
    assert resize_keep_ratio((640, 480), (1333, 800)) == pytest.approx(800 / 480)
    # very wide image: the long side binds: 1333 / 3000
    s = resize_keep_ratio((1000, 3000), (1333, 800))
    assert s == pytest.approx(1333 / 3000)
    assert rescaled_shape((1000, 3000), s) == (444, 1333)
    # order of max_size does not matter
    assert resize_keep_ratio((480, 640), (800, 1333)) == resize_keep_ratio((480, 640), (1333, 800))
    with pytest.raises(ValueError):
        resize_keep_ratio((0, 10))


def test_hflip_boxes_and_image_agree():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 40.0], [0.0, 0.0, 100.0, 5.0]])
    flipped = hflip_boxes(boxes, 100)
    assert torch.equal(flipped, torch.tensor([[70.0, 20.0, 90.0, 40.0], [0.0, 0.0, 100.0, 5.0]]))
    assert torch.equal(hflip_boxes(flipped, 100), boxes)
    image = torch.zeros(3, 50, 100)
    image[:, 20:40, 10:30] = 1.0  # pixels covered by box 0
    cols = hflip_image(image)[0].sum(0).nonzero().flatten()
    assert (cols.min().item(), cols.max().item() + 1) == (70, 90)


def test_resize_and_clip_boxes():
    boxes = torch.tensor([[10.0, 10.0, 20.0, 30.0]])
    out = resize_boxes(boxes, (100, 200), (50, 400))  # sy = 0.5, sx = 2
    assert torch.allclose(out, torch.tensor([[20.0, 5.0, 40.0, 15.0]]))
    clipped = clip_boxes(torch.tensor([[-5.0, 3.0, 120.0, 70.0]]), (60, 100))
    assert torch.equal(clipped, torch.tensor([[0.0, 3.0, 100.0, 60.0]]))


def test_flip_decision_reproducible_and_balanced():
    a = [flip_decision(0, 1, i, 0.5) for i in range(400)]
    assert a == [flip_decision(0, 1, i, 0.5) for i in range(400)]
    assert a != [flip_decision(0, 2, i, 0.5) for i in range(400)]
    assert 0.4 < sum(a) / len(a) < 0.6
    assert not flip_decision(0, 0, 0, 0.0) and flip_decision(0, 0, 0, 1.0)


def test_make_sample_resizes_and_flips_boxes():
    image = np.zeros((30, 40, 3), dtype=np.uint8)
    image[5:15, 0:10] = 255
    img, tgt = make_sample(image, np.array([[0, 5, 10, 15]]), np.array([1]), np.array([False]), 7,
                           max_size=(80, 60), flip=True)
    assert img.shape == (3, 60, 80) and img.dtype == torch.float32 and img.max() == 1.0
    assert tgt["scale_factor"] == pytest.approx(2.0)
    assert tgt["orig_size"] == (30, 40) and tgt["img_shape"] == (60, 80) and tgt["flipped"]
    assert torch.equal(tgt["boxes"], torch.tensor([[60.0, 10.0, 80.0, 30.0]]))
    # bilinear upsampling blurs one pixel at the edges; the interior and the far side are exact
    assert img[:, 11:29, 61:79].min() == 1.0 and img[:, :, :58].max() == 0.0


def test_sanitize_box_cases():
    assert sanitize_box([1, 2, 3, 4], 10, 10)[1] is None
    assert sanitize_box([1, 2, 0, 4], 10, 10) == (None, "degenerate_box")
    assert sanitize_box([1, 2, float("nan"), 4], 10, 10) == (None, "degenerate_box")
    assert sanitize_box([12, 2, 3, 4], 10, 10) == (None, "box_outside_image")
    box, reason = sanitize_box([8, -2, 5, 4], 10, 10)
    assert reason == "box_clipped" and box.tolist() == [8, 0, 10, 2]


# ----------------------------------------------------------------------------- dataset
def _write_png(path: Path, h: int, w: int, value: int = 128) -> None:
    Image.fromarray(np.full((h, w, 3), value, dtype=np.uint8)).save(path)


def _make_coco(tmp_path: Path, annotations: list[dict], images: int = 2) -> tuple[Path, Path]:
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    entries = []
    for i in range(images):
        _write_png(image_dir / f"{i}.png", 30, 40, 50 * i)
        entries.append({"id": 100 + i, "file_name": f"{i}.png", "width": 40, "height": 30})
    data = {"images": entries, "annotations": annotations,
            "categories": [{"id": 90, "name": "b"}, {"id": 5, "name": "a"}]}
    ann_file = tmp_path / "ann.json"
    ann_file.write_text(json.dumps(data))
    return ann_file, image_dir


def _ann(ann_id: int, image_id: int, bbox: list[float], cat: int = 5, crowd: int = 0) -> dict:
    return {"id": ann_id, "image_id": image_id, "bbox": bbox, "category_id": cat, "iscrowd": crowd,
            "area": bbox[2] * bbox[3]}


def test_valid_dataset_sample_format_and_labels(tmp_path):
    anns = [_ann(1, 100, [2, 3, 10, 5], cat=90), _ann(2, 100, [0, 0, 4, 4], cat=5),
            _ann(3, 101, [1, 1, 5, 5], crowd=1), _ann(4, 101, [5, 5, 5, 5])]
    ds = CocoDetection(*_make_coco(tmp_path, anns), max_size=(80, 60))
    assert len(ds) == ds.num_images == 2 and ds.image_ids == [100, 101]
    img, tgt = ds[0]
    assert img.shape == (3, 60, 80) and img.dtype == torch.float32
    assert torch.equal(tgt["boxes"], torch.tensor([[4.0, 6.0, 24.0, 16.0], [0.0, 0.0, 8.0, 8.0]]))
    assert tgt["labels"].tolist() == [2, 1]  # category ids (5, 90) -> contiguous labels (1, 2)
    assert ds.label_to_cat_id == {1: 5, 2: 90}
    assert tgt["image_id"] == 100 and tgt["scale_factor"] == pytest.approx(2.0)
    assert ds[1][1]["iscrowd"].tolist() == [True, False]  # crowd kept, flagged
    assert dict(ds.skipped) == {} and "nothing skipped" in ds.report()


def test_missing_and_truncated_json(tmp_path):
    with pytest.raises(DataError, match="nope.json: annotation file not found"):
        CocoDetection(tmp_path / "nope.json", tmp_path)
    ann_file, image_dir = _make_coco(tmp_path, [_ann(1, 100, [2, 3, 10, 5])])
    text = ann_file.read_text()
    ann_file.write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match=r"ann\.json: invalid JSON at line 1 column \d+"):
        CocoDetection(ann_file, image_dir)


def test_missing_keys_name_file_and_annotation(tmp_path):
    ann_file, image_dir = _make_coco(tmp_path, [{"id": 17, "image_id": 100, "category_id": 5}])
    with pytest.raises(DataError, match=r"ann\.json: annotation id 17: .*missing key\(s\) \['bbox'\]"):
        CocoDetection(ann_file, image_dir)
    data = json.loads(ann_file.read_text())
    del data["annotations"]
    ann_file.write_text(json.dumps(data))
    with pytest.raises(DataError, match="missing top-level key 'annotations'"):
        CocoDetection(ann_file, image_dir)


def test_bad_references_raise(tmp_path):
    ann_file, image_dir = _make_coco(tmp_path, [_ann(3, 999, [2, 3, 10, 5])])
    with pytest.raises(DataError, match="annotation id 3: refers to unknown image id 999"):
        CocoDetection(ann_file, image_dir)


def test_missing_image_file_reported_at_construction(tmp_path):
    ann_file, image_dir = _make_coco(tmp_path, [_ann(1, 100, [2, 3, 10, 5])], images=3)
    (image_dir / "1.png").unlink()
    with pytest.raises(DataError, match=r"1\.png: image file not found \(1 of 3 images"):
        CocoDetection(ann_file, image_dir)


def test_degenerate_outside_clipped_boxes_counted(tmp_path):
    anns = [_ann(1, 100, [2, 3, 0, 5]),      # zero width -> skipped
            _ann(2, 100, [50, 3, 10, 5]),    # entirely right of the 40 px image -> skipped
            _ann(3, 100, [35, -5, 10, 10]),  # partly outside -> clipped to [35, 0, 40, 5]
            _ann(4, 100, [1, 1, 2, 2])]
    ds = CocoDetection(*_make_coco(tmp_path, anns), max_size=None)
    assert ds.skipped["degenerate_box"] == 1 and ds.skipped["box_outside_image"] == 1
    assert ds.skipped["box_clipped"] == 1
    assert torch.equal(ds[0][1]["boxes"], torch.tensor([[35.0, 0.0, 40.0, 5.0], [1.0, 1.0, 3.0, 3.0]]))
    assert "box width or height <= 0" in ds.report() and "entirely outside" in ds.report()


def test_empty_images_kept_or_dropped(tmp_path):
    anns = [_ann(1, 100, [2, 3, 10, 5]), _ann(2, 101, [2, 3, 10, 5], crowd=1)]  # 101: crowd only
    ann_file, image_dir = _make_coco(tmp_path, anns, images=3)
    kept = CocoDetection(ann_file, image_dir)
    assert len(kept) == 3 and kept.skipped["empty_image_kept"] == 2
    assert kept[2][1]["boxes"].shape == (0, 4) and kept[2][1]["labels"].dtype == torch.int64
    dropped = CocoDetection(ann_file, image_dir, filter_empty=True)
    assert dropped.image_ids == [100] and dropped.skipped["empty_image_dropped"] == 2


def test_corrupt_image_raises_naming_file_at_getitem(tmp_path):
    ann_file, image_dir = _make_coco(tmp_path, [_ann(1, 100, [2, 3, 10, 5])])
    raw = (image_dir / "1.png").read_bytes()
    (image_dir / "1.png").write_bytes(raw[: len(raw) // 2])
    ds = CocoDetection(ann_file, image_dir)  # construction checks existence only
    ds[0]
    with pytest.raises(DataError, match=r"1\.png: image id 101: cannot read image"):
        ds[1]


def test_image_size_mismatch_raises(tmp_path):
    ann_file, image_dir = _make_coco(tmp_path, [_ann(1, 100, [2, 3, 10, 5])])
    _write_png(image_dir / "0.png", 31, 40)
    with pytest.raises(DataError, match=r"0\.png: image id 100: image is 40x31"):
        CocoDetection(ann_file, image_dir)[0]


def test_flip_reproducible_per_epoch(tmp_path):
    anns = [_ann(i + 1, 100 + i % 2, [2, 3, 10, 5]) for i in range(2)]
    ann_file, image_dir = _make_coco(tmp_path, anns)
    ds = CocoDetection(ann_file, image_dir, max_size=None, flip_prob=0.5, seed=3)
    flips = []
    for epoch in range(8):
        ds.set_epoch(epoch)
        flips.append([ds[i][1]["flipped"] for i in range(2)])
    again = CocoDetection(ann_file, image_dir, max_size=None, flip_prob=0.5, seed=3)
    again.set_epoch(5)
    assert [again[i][1]["flipped"] for i in range(2)] == flips[5]
    assert len({tuple(f) for f in flips}) > 1
    ds = CocoDetection(ann_file, image_dir, max_size=None, flip_prob=1.0)
    assert torch.equal(ds[0][1]["boxes"], torch.tensor([[28.0, 3.0, 38.0, 8.0]]))


def test_default_coco_paths():
    ann, img = default_coco_paths("/d/coco", "val")
    assert ann == Path("/d/coco/annotations/instances_val2017.json") and img == Path("/d/coco/val2017")


def test_build_dataset_coco(tmp_path):
    from scrpn.data import build_dataset
    ann_file, image_dir = _make_coco(tmp_path, [_ann(1, 100, [2, 3, 10, 5])])
    ds = build_dataset("coco", "val", ann_file=ann_file, image_dir=image_dir, max_size=None)
    assert ds.ann_file == ann_file and len(ds) == 2
    with pytest.raises(ValueError, match="both ann_file and image_dir"):
        build_dataset("coco", "val", ann_file=ann_file)
    with pytest.raises(DataError, match="instances_val2017.json: annotation file not found"):
        build_dataset("coco", "val", root=tmp_path)
