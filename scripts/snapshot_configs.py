"""Write tests/fixtures/resolved_configs.json: the fingerprint of every row's resolved config.

``tests/test_resolved_configs.py`` recomputes them and fails on any difference, so that a change
to the config files or to the loader (e.g. issue 20's method x profile layout) cannot silently
change what a row computes: every cached run under results/runs/ would otherwise go stale.
Rewrite the snapshot only for a deliberate change of a row, and say so in REPORT.md.

    .venv/bin/python scripts/snapshot_configs.py
"""
from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "tests" / "fixtures" / "resolved_configs.json"


def resolved_fingerprints() -> dict[str, str]:
    from scrpn.config import load_config
    from scrpn.study import Study, config_fingerprint

    out: dict[str, str] = {}
    from scrpn.study.tables import TABLES, study_rows

    files = {p.stem for p in (ROOT / "configs" / "mini").glob("*.yaml") if not p.stem.startswith("_")}
    files |= {p.stem for p in (ROOT / "configs" / "mini").glob("*/*.yaml") if p.parent.name != "datasets"}
    rows = files | {row for spec in TABLES.values() for row in study_rows(spec)}
    mini = Study(profile="mini", config_root=ROOT / "configs")   # every IoU-mask row's test variant
    rows |= {f"{row}_notest" for row in files if mini.config(row).model.head.iou_mask.enabled}
    rows = sorted(rows)
    for profile in ("mini", "smoke"):
        study = Study(profile=profile, config_root=ROOT / "configs")
        for row in rows:
            out[f"{profile}/{row}"] = config_fingerprint(study.config(row))
    forest = Study(profile="mini", dataset="deepforest", config_root=ROOT / "configs")
    for row in ("rpn", "cascade_rpn", "sc_rpn", "diag_cascade_rpn_paper_norm"):   # Table X, experiment 9
        out[f"mini+deepforest/{row}"] = config_fingerprint(forest.config(row))
    for path in sorted((ROOT / "configs" / "coco").glob("*.yaml")):
        if not path.stem.startswith("_"):
            out[f"coco/{path.stem}"] = config_fingerprint(load_config(path))
    for path in sorted((ROOT / "configs" / "smoke").glob("*.yaml")):
        if not path.stem.startswith("_"):
            out[f"smoke-file/{path.stem}"] = config_fingerprint(load_config(path))
    return out


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
    SNAPSHOT.write_text(json.dumps(resolved_fingerprints(), indent=1, sort_keys=True) + "\n",
                        encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
