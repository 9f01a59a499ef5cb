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
    """Issue 20: a row composes its profile (``_base.yaml`` of its folder), one self-contained
    method (``configs/methods/``) and, for detectors, the profile's ``_det.yaml``; it never
    inherits from another row, and a method file inherits from nothing."""
    import yaml
    for folder in ("mini", "coco"):
        for path in sorted((ROOT / "configs" / folder).glob("*.yaml")):
            if path.stem.startswith("_"):
                continue
            bases = yaml.safe_load(path.read_text(encoding="utf-8"))["_base_"]
            assert bases[0] == "_base.yaml" and bases[1].startswith("../methods/"), path
            assert bases[2:] in ([], ["_det.yaml"]), path
            detector = path.stem.startswith("det_") or path.stem.partition("_")[2].startswith("det_")
            assert (bases[2:] == ["_det.yaml"]) == detector, path   # det_* rows and experiments' x8_det_*
    for path in sorted((ROOT / "configs" / "methods").glob("*.yaml")):
        method = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert "_base_" not in method and "profile" not in method and "data" not in method, path
