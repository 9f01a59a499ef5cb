"""Every figure's text legible at 100 % zoom in a 1280-px-wide browser (issue 39, item 5).

The reading and its numbers are :mod:`scrpn.viz.style`'s: a figure is shown at most
``BROWSER_PX`` = 1000 px wide (JupyterLab's output column in a 1280-px window), so a text of ``s``
pt in a figure ``w`` inches wide drawn at ``d`` dpi appears at ``s d / 72 · min(1, 1000 / (w d))``
px, at the notebook's 100 dpi and at the saved PNG's 150 dpi; every drawn text (titles, axis
labels, tick labels, legends, annotations, colour bars) must reach ``MIN_TEXT_PX`` = 11 px.

Each figure function of :mod:`scrpn.viz` is built here from small inputs (a figure's text sizes
come from its code, not from its data; the cause figures read the committed ``causes.csv``), and
:func:`test_every_figure_function_is_built_here` fails when a module gains one this file does not
build. Notebook 05 draws its sweep figure inline (at 10 inches and matplotlib's default sizes: 10 pt,
13.9 px); it is not built here.
"""
from __future__ import annotations

import inspect
import json
import math
from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

from scrpn.viz import style

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("cause_figures", "figures", "learning_curve", "lessons", "sads_inspector", "teaching")


# ------------------------------------------------------------------------------ the rule itself
def test_shown_px_by_hand() -> None:
    # 8 pt at 100 dpi, 10 inches: 1000 px wide, not shrunk: 8 * 100 / 72 = 11.11 px
    assert style.shown_px(8, 10.0, 100) == pytest.approx(11.111, abs=1e-3)
    # the same figure saved at 150 dpi is 1500 px, shrunk to 1000: the same 11.11 px
    assert style.shown_px(8, 10.0, 150) == pytest.approx(11.111, abs=1e-3)
    # 8 pt in an 18-inch figure: 8 * 1000 / (72 * 18) = 6.17 px
    assert style.shown_px(8, 18.0, 100) == pytest.approx(6.173, abs=1e-3)
    # a small figure is never enlarged: 7 pt at 100 dpi, 5 inches = 9.72 px
    assert style.shown_px(7, 5.0, 100) == pytest.approx(9.722, abs=1e-3)


def test_small_texts_names_what_is_too_small() -> None:
    @style.legible
    def build(width: float, size: float) -> Figure:
        fig = Figure(figsize=(width, 3.0))
        ax = fig.subplots()
        ax.set_title("title")
        ax.text(0.5, 0.5, "note", fontsize=size)
        return fig

    # 10 inches, dpi 100: 7 pt is 9.7 px (too small), 9 pt is 12.5 px
    assert [text for text, _ in style.small_texts(build(10.0, 7.0))] == ["note"]
    assert style.small_texts(build(10.0, 9.0)) == []
    # 20 inches: shrunk by half: the 9-pt ticks (6.25 px) and even the 11-pt title fail
    names = [text for text, _ in style.small_texts(build(20.0, 9.0))]
    assert "note" in names and "title" in names and "0.0" in names


# ------------------------------------------------------------------------------ the figures
def _causes() -> pd.DataFrame:
    return pd.read_csv(ROOT / "results" / "tables" / "causes.csv")


def _stats() -> dict[str, Any]:
    from scrpn.viz.figures import synthetic_stats

    return {"SC-RPN": synthetic_stats(num_gt=120, seed=0), "RPN": synthetic_stats(num_gt=120, quality=0.5, seed=1)}


def _train_log(keys: tuple[str, ...] = ("loss", "loss_s1_cls", "loss_s2_reg", "loss_mask", "loss_rcnn_cls",
                                        "loss_rcnn_reg")) -> list[dict[str, Any]]:
    return [{"type": "train", "iter": i, **{k: 1.0 / (1 + i + j) for j, k in enumerate(keys)},
             "diag_s1_pos_iou": 0.5 + i / 1000, "diag_s1_prior_iou": 0.5} for i in range(0, 200, 20)]


def _image() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return 0.5 * torch.rand(3, 128, 128, generator=g)


_TARGET = {"boxes": torch.tensor([[30.0, 40.0, 90.0, 64.0], [12.0, 10.0, 20.0, 74.0]]),
           "labels": torch.ones(2, dtype=torch.long), "iscrowd": torch.zeros(2, dtype=torch.bool),
           "img_shape": (128, 128), "image_id": 1}


@pytest.fixture(scope="module")
def smoke_model():
    from scrpn.build import build_model
    from scrpn.config import load_config

    cfg = load_config(ROOT / "configs" / "smoke" / "sc_rpn.yaml")
    cfg.model.backbone.pretrained = False
    torch.manual_seed(0)
    return build_model(cfg).eval(), cfg


def _fig5(model) -> Figure:
    from scrpn.viz import figures as F

    p = F.point_proposals(model[0], _image(), k=3)
    return F.fig5_point_representation(_image(), p["init_points"], p["refined_points"], p["boxes"], p["scores"],
                                       gt_boxes=_TARGET["boxes"].numpy())


def _teaching(which: str, model) -> Figure:
    from scrpn.viz import teaching as T

    net, cfg = model
    if which == "plot_score_vs_localisation":
        res = T.score_vs_localisation(net, _image(), _TARGET)
        outcomes = T.nms_with_and_without_mask(res.boxes, res.cls_score, res.iou_aware, _TARGET["boxes"])
        return T.plot_score_vs_localisation(res, _image(), _TARGET["boxes"], outcomes)
    if which == "plot_positives_per_stage":
        res = T.positives_per_stage(cfg, net, _image(), _TARGET)
        return T.plot_positives_per_stage([res, res], _image())
    matches = T.anchors_vs_points_on_slender({"anchors": net, "points": net}, [(_image(), _TARGET)] * 3,
                                             min_aspect=1.0)
    return T.plot_anchors_vs_points(matches, [_image()] * 3)


def _inspector(which: str) -> Figure:
    from scrpn.viz import sads_inspector as S

    if which == "plot_image_only":
        return S.plot_image_only(_image())
    a = S.inspect_sads(_image(), _TARGET["boxes"])
    b = S.inspect_sads(_image(), _TARGET["boxes"], "Max-IoU, both stages")
    return S.plot_comparison(a, b, stage=2, gt=0, figsize=(11.5, 5.9))     # notebook 05's, the widest


def _lessons(which: str) -> Figure:
    from scrpn.viz import lessons

    if which == "detector_inputs":
        return lessons.detector_inputs(_stats())
    return lessons.object_shapes(_stats(), 16.0, image_size=256)


def _learning_curve() -> Figure:
    from scrpn.viz.learning_curve import learning_curve

    points = {m: {it: {"run": f"{m}_{it}", "iterations": it, "AR100": 30.0 + k + it / 200, "AR1000": 50.0 + k,
                       "AR_S": 20.0 + k} for it in (700, 1400, 2800, 5600)} for k, m in enumerate(("rpn", "sc_rpn"))}
    return learning_curve(points, {"rpn": _train_log(("loss",)), "sc_rpn": _train_log(("loss",))},
                          paper={"rpn": {"AR1000": 58.3}})


def _regime() -> Figure:
    from scrpn.viz.cause_figures import causes_regime

    methods = ("rpn", "iterative_rpn", "ga_rpn", "cascade_rpn", "sc_rpn")
    mini = {m: [40.0 + 3 * k, 41.0 + 3 * k, 42.0 + 3 * k] for k, m in enumerate(methods)}
    paper = {m: [45.0 + 2 * k] for k, m in enumerate(methods)}
    return causes_regime(mini, paper, margin=1.5)


def _figures(model_factory: Callable[[], Any]) -> dict[str, Callable[[], Figure]]:
    from scrpn.viz import cause_figures as CF
    from scrpn.viz import figures as F

    return {
        "cause_figures.causes_ar1000": lambda: CF.causes_ar1000(_causes()),
        "cause_figures.causes_detectors": lambda: CF.causes_detectors(
            _causes(), {"x8_det_faster_rcnn_rpn_3x": _train_log(), "det_faster_rcnn_sc_rpn": _train_log()}),
        "cause_figures.causes_regime": _regime,
        "cause_figures.causes_missed": lambda: CF.causes_missed(_causes(), 4),
        "cause_figures.stage1_margin_curves": lambda: CF.stage1_margin_curves(
            {"x4s1_sads_unitbox": [_train_log(), _train_log()], "t3_sads": [[{"type": "train", "iter": 0}]]},
            0.05, title="exp. 4: PosR helps (+2.8): does stage 1 learn?"),
        "figures.fig3_iou_mask_supervision": F.fig3_iou_mask_supervision,
        "figures.fig4_iou_aware_score": F.fig4_iou_aware_score,
        "figures.fig5_point_representation": lambda: _fig5(model_factory()),
        "figures.fig6_iou_distribution": lambda: F.fig6_iou_distribution(_stats(), k=300),
        "figures.fig7_iou_mask_effect": lambda: F.fig7_iou_mask_effect(_stats()),
        "figures.fig8_aspect_ratio_recall": lambda: F.fig8_aspect_ratio_recall(_stats(), thresholds=(0.7, 0.8)),
        "figures.training_curves": lambda: F.training_curves({"rpn": _train_log(), "sc_rpn": _train_log()}),
        "learning_curve.learning_curve": _learning_curve,
        "lessons.detector_inputs": lambda: _lessons("detector_inputs"),
        "lessons.object_shapes": lambda: _lessons("object_shapes"),
        "sads_inspector.plot_comparison": lambda: _inspector("plot_comparison"),
        "sads_inspector.plot_image_only": lambda: _inspector("plot_image_only"),
        "teaching.plot_score_vs_localisation": lambda: _teaching("plot_score_vs_localisation", model_factory()),
        "teaching.plot_positives_per_stage": lambda: _teaching("plot_positives_per_stage", model_factory()),
        "teaching.plot_anchors_vs_points": lambda: _teaching("plot_anchors_vs_points", model_factory()),
    }


NAMES = sorted(_figures(lambda: None))


def test_every_figure_function_is_built_here() -> None:
    """Every public function of scrpn/viz/ that returns a Figure has a builder above."""
    import importlib

    found = set()
    for module_name in MODULES + tuple(p.stem for p in (ROOT / "scrpn" / "viz").glob("*.py")
                                       if p.stem not in MODULES + ("__init__", "style", "common")):
        module = importlib.import_module(f"scrpn.viz.{module_name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and not name.startswith("_") and \
                    str(inspect.signature(function).return_annotation) in ("Figure", "<class 'matplotlib.figure.Figure'>"):
                found.add(f"{module_name}.{name}")
    assert found == set(NAMES), f"figure functions without a legibility check: {sorted(found - set(NAMES))}"


@pytest.mark.parametrize("name", NAMES)
def test_every_text_is_legible(name: str, smoke_model) -> None:
    fig = _figures(lambda: smoke_model)[name]()
    assert isinstance(fig, Figure)
    small = style.small_texts(fig)
    assert not small, (f"{name}: text below {style.MIN_TEXT_PX:g} px at 100 % zoom in a "
                       f"{style.BROWSER_PX}-px column: " + "; ".join(f"{t!r} {px:.1f} px" for t, px in small[:8]))
