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
