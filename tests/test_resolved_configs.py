"""Every row's resolved config is what it was when the snapshot was taken (issue 20).

``tests/fixtures/resolved_configs.json`` holds the fingerprint of every row of every profile
(mini, smoke, the DeepForest overlay, the COCO and smoke files), written by
``scripts/snapshot_configs.py``. A refactor of the config files or of the loader must leave all of
them unchanged; a deliberate change of a row rewrites the snapshot and says so in the REPORT.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _snapshot_module():
    spec = importlib.util.spec_from_file_location("snapshot_configs", ROOT / "scripts" / "snapshot_configs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_resolved_config_matches_the_snapshot():
    module = _snapshot_module()
    expected = json.loads(module.SNAPSHOT.read_text(encoding="utf-8"))
    actual = module.resolved_fingerprints()
    assert set(actual) == set(expected), sorted(set(actual) ^ set(expected))
    changed = sorted(k for k in actual if actual[k] != expected[k])
    assert not changed, changed
    assert len(actual) > 150


def test_every_row_is_a_profile_a_method_and_a_delta():
    """Issue 20: a row composes its profile (``_base.yaml`` of its profile folder), one method
    (``configs/methods/``) and, for detectors, the profile's ``_det.yaml``; it never inherits from
    another row. Issue 35: rows filed in a subfolder (``experiments/``, ``diagnostics/``,
    ``detectors/``) reach the same files one folder up. A method file inherits from nothing but,
    where it is another method plus a line (``sc_rpn.yaml`` = ``sads.yaml`` + the IoU mask), from
    that one method."""
    import yaml
    for folder in ("mini", "coco"):
        paths = [*(ROOT / "configs" / folder).glob("*.yaml"), *(ROOT / "configs" / folder).glob("*/*.yaml")]
        for path in sorted(paths):
            if path.stem.startswith("_") or path.parent.name == "datasets":
                continue
            up = "" if path.parent.name == folder else "../"
            bases = yaml.safe_load(path.read_text(encoding="utf-8"))["_base_"]
            assert bases[0] == f"{up}_base.yaml" and bases[1].startswith(f"{up}../methods/"), path
            assert bases[2:] in ([], [f"{up}_det.yaml"]), path
            detector = path.stem.startswith("det_") or path.stem.partition("_")[2].startswith("det_")
            assert (bases[2:] == [f"{up}_det.yaml"]) == detector, path   # det_* rows and experiments' x8_det_*
            if folder == "mini":   # the COCO profile holds the tables' rows only
                assert (path.parent.name == "detectors") == (detector and not path.stem.startswith("diag_")), path
    for path in sorted((ROOT / "configs" / "methods").glob("*.yaml")):
        method = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "profile" not in method and "data" not in method, path
        base = method.get("_base_")
        assert base is None or (isinstance(base, str) and "/" not in base
                                and (path.parent / base).is_file()), path
        if base is not None:
            assert "_base_" not in yaml.safe_load((path.parent / base).read_text(encoding="utf-8")), path
    sc_rpn = yaml.safe_load((ROOT / "configs" / "methods" / "sc_rpn.yaml").read_text(encoding="utf-8"))
    assert sc_rpn["_base_"] == "sads.yaml" and list(sc_rpn["model"]["head"]) == ["iou_mask"]


def test_rows_have_a_home_and_a_unique_name():
    """Issue 35: ``configs/mini/`` keeps the paper's tables' rows; the cause experiments' rows
    (``x<n>...``, issue 37's ``bf16_*``), the diagnostics (``diag_*``) and the detectors (``det_*``, ``x8_det_*``) are filed
    in subfolders. A row's name is unique across the folders, and ``Study`` finds each row by its
    name wherever it is filed (its cached runs stay under ``results/runs/<row>/``)."""
    import re

    from scrpn.study import Study

    mini = ROOT / "configs" / "mini"
    homes: dict[str, list[str]] = {}
    for path in mini.glob("**/*.yaml"):
        if path.stem.startswith("_") or path.parent.name == "datasets":
            continue
        homes.setdefault(path.stem, []).append(path.parent.name)
    assert all(len(where) == 1 for where in homes.values()), {r: w for r, w in homes.items() if len(w) > 1}
    for row, (where,) in homes.items():
        expected = ("diagnostics" if row.startswith("diag_") else
                    "detectors" if row.startswith("det_") or re.match(r"x\d+_det_", row) else
                    "experiments" if re.match(r"x\d|bf16_", row) else "mini")   # issue 37's rows too
        assert where == expected, (row, where)
    study = Study(profile="mini", config_root=ROOT / "configs")
    for row in ("x7_rpn", "diag_t3_point_lr001", "det_faster_rcnn_rpn", "x3_mask_single_notest", "sc_rpn_notest"):
        path, _ = study._row_file(row)
        assert path.parent.name == homes[row.removesuffix("_notest")][0]
        assert study.run_dir(row, 0) == Path("results") / "runs" / row / "seed0"
