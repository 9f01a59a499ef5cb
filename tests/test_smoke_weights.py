"""Bit-identity of trained weights across refactors (issue 35: "a smoke row's weights after 20
iterations are bit-identical before and after").

Each row of :data:`ROWS` trains 20 smoke iterations (seed 0, one thread, the study's smoke
composition) and the sha256 of its ``state_dict`` (names and bytes, in order) must equal the value
recorded in ``tests/fixtures/smoke_weights.json`` for this torch version and CPU capability. The
values were recorded at commit ad602b7 (before the head contract of issue 35); a change to the
layer creation order, to an initialisation, to the assignment, sampling or any loss moves them.

Float kernels differ between CPU instruction sets, so the hashes are keyed by
``torch.__version__`` and ``torch.backends.cpu.get_cpu_capability()``; on a platform without a
record the test is skipped (counted), and ``python tests/test_smoke_weights.py --record`` prints
the values to add -- run it on a commit whose weights are known good, not on the one under test.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from scrpn.engine.trainer import new_trainer
from scrpn.study.runs import Study

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "tests" / "fixtures" / "smoke_weights.json"
ITERS = 20
# Every method of Table I, every two-stage configuration of Table III and one detector.
ROWS = ("rpn", "rpn_1anchor", "ga_rpn", "cascade_rpn", "iterative_rpn", "sc_rpn", "t3_two_stage",
        "t3_alignment", "t3_iou_loss", "t3_point", "t3_sads", "det_faster_rcnn_sc_rpn")


def platform_key() -> str:
    return f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}"


def state_sha256(model: torch.nn.Module) -> str:
    """sha256 over every state_dict entry's name and raw bytes, in the module's order."""
    h = hashlib.sha256()
    for name, value in model.state_dict().items():
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def trained_sha256(row: str, run_dir: Path) -> str:
    study = Study(profile="smoke", config_root=ROOT / "configs",
                  overrides=[f"train.max_iters={ITERS}", "train.num_threads=1", "train.seed=0"])
    trainer = new_trainer(study.config(row), run_dir, progress=False)
    trainer.train()
    return state_sha256(trainer.model)


@pytest.mark.parametrize("row", ROWS)
def test_smoke_weights_are_bit_identical(row: str, tmp_path: Path) -> None:
    recorded = json.loads(RECORD.read_text(encoding="utf-8")).get(platform_key())
    if recorded is None:
        pytest.skip(f"no weights recorded for {platform_key()} in {RECORD.name}")
    threads = torch.get_num_threads()
    try:
        assert trained_sha256(row, tmp_path) == recorded[row]
    finally:
        torch.set_num_threads(threads)


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps({platform_key(): {r: trained_sha256(r, Path(d) / r) for r in ROWS}}, indent=2))
