"""``scrpn config show ROW``: the resolved config, every key with the file that set it (issue 20)."""
from __future__ import annotations

import json
from pathlib import Path

from scrpn.cli import main
from scrpn.config import load_raw_with_sources
from scrpn.study import Study

ROOT = Path(__file__).resolve().parents[1]


def test_sources_follow_the_base_chain_by_hand(tmp_path):
    (tmp_path / "a.yaml").write_text("train: {base_lr: 0.01, max_iters: 7}\nmodel: {head: {num_stages: 2}}\n")
    (tmp_path / "b.yaml").write_text("_base_: a.yaml\ntrain: {base_lr: 0.005}\n")
    (tmp_path / "c.yaml").write_text("_base_: b.yaml\ntrain: {base_lr: 0.01}\nmodel: {head: 3}\n")
    raw, sources = load_raw_with_sources(tmp_path / "b.yaml")
    assert raw == {"train": {"base_lr": 0.005, "max_iters": 7}, "model": {"head": {"num_stages": 2}}}
    assert Path(sources["train.base_lr"]).name == "b.yaml"
    assert Path(sources["train.max_iters"]).name == "a.yaml"
    raw, sources = load_raw_with_sources(tmp_path / "c.yaml")
    assert Path(sources["train.base_lr"]).name == "c.yaml"          # 0.01 -> 0.005 -> 0.01
    # a value replacing a whole section takes its keys' sources with it
    assert raw["model"] == {"head": 3} and Path(sources["model.head"]).name == "c.yaml"
    assert "model.head.num_stages" not in sources


def test_config_show_prints_every_key_once_with_its_source(capsys):
    assert main(["config", "show", "sc_rpn", "--set", "train.max_iters=9"]) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = {}
    for line in lines:
        entry, source = line.rsplit("  # ", 1)
        key, value = entry.split(": ", 1)
        assert key not in shown
        shown[key] = (json.loads(value.strip()), source)
    cfg = Study(profile="mini").config("sc_rpn")
    assert shown["train.base_lr"] == (cfg.train.base_lr, "configs/mini/_base.yaml")   # set once
    assert shown["model.head.iou_mask.enabled"] == (True, "configs/methods/sc_rpn.yaml")
    # SC-RPN is the SADS method plus the IoU mask (issue 35): the SADS keys come from sads.yaml
    assert shown["model.head.stage2.assigner.topk"] == (9, "configs/methods/sads.yaml")
    assert shown["train.max_iters"] == (9, "--set train.max_iters=9")
    assert shown["data.data_seed"] == (0, "default")
    assert shown["model.head.anchor_scale"] == (4.0, "configs/mini/_base.yaml")
    flat = json.dumps(cfg.to_dict(), sort_keys=True)
    assert len(shown) == flat.count('": ') - flat.count('": {')   # one line per leaf


def test_config_show_names_overlays(capsys):
    assert main(["config", "show", "rpn", "--profile", "smoke"]) == 0
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("data.image_size:")]
    assert lines and lines[0].endswith("# configs/smoke/_base.yaml (overlay)")
