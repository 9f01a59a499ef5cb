"""Experiment 10's learning-curve figure (scrpn/viz/learning_curve.py)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrpn.viz.learning_curve import curve_points, learning_curve

ROOT = Path(__file__).resolve().parents[1]


def test_points_gather_rungs_and_extra_runs_by_their_iterations() -> None:
    runs = {"rpn": {"iterations": 700, "AR1000": 43.0}, "s2x_rpn": {"iterations": 1400, "AR1000": 49.0},
            "x2g2c_rpn_4x": {"iterations": 2800, "AR1000": 53.9}, "sc_rpn": {"iterations": 700, "AR1000": 60.0}}
    points = curve_points(["rpn", "sc_rpn", "ga_rpn"], runs.get, extra={"rpn": ["x2g2c_rpn_4x"]})
    assert list(points) == ["rpn", "sc_rpn"]                 # no GA-RPN run: no curve
    assert list(points["rpn"]) == [700, 1400, 2800]
    assert points["rpn"][2800]["run"] == "x2g2c_rpn_4x" and points["rpn"][1400]["AR1000"] == 49.0
    # a rung's own run of the same length takes the extra run's place
    runs["s4x_rpn"] = {"iterations": 2800, "AR1000": 54.0}
    assert curve_points(["rpn"], runs.get, extra={"rpn": ["x2g2c_rpn_4x"]})["rpn"][2800]["run"] == "s4x_rpn"


def test_the_figure_on_the_committed_runs() -> None:
    def record(name: str):
        path = ROOT / "results" / "runs" / name / "seed0" / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else None

    points = curve_points(["rpn", "sc_rpn", "ga_rpn"], record,
                          extra={"rpn": ["x2g2c_rpn_4x"], "ga_rpn": ["x2g2_ga_rpn_4x"]})
    assert set(points["rpn"]) >= {700, 2800} and set(points["ga_rpn"]) >= {700, 2800}
    logs = {"rpn": [{"type": "train", "iter": 20, "loss": 0.7}, {"type": "train", "iter": 40, "loss": 0.6}]}
    fig = learning_curve(points, logs, paper={"rpn": {"AR1000": 58.3}})
    assert len(fig.axes) == 4
    ar1000 = fig.axes[1]
    assert ar1000.get_xscale() == "log" and "AR1000" in ar1000.get_ylabel()
    assert len(ar1000.collections) == len(points)          # one ±1.0 band per method
    with pytest.raises(ValueError, match="no runs to draw"):
        learning_curve({})
