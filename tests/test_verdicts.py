"""The arithmetic of the pre-registered rules (scrpn/study/verdicts.py), on hand-computed numbers."""
from __future__ import annotations

import math

import pytest

from scrpn.study.verdicts import difference, difference_se, experiment3, stage1_learns


def test_unpaired_difference_by_hand():
    # means 4 and 2, sample sds 2 and 1, three seeds each: se = sqrt(4/3 + 1/3) = 1.291
    d = difference([2.0, 4.0, 6.0], [1.0, 2.0, 3.0])
    assert d.delta == pytest.approx(2.0) and d.se == pytest.approx(math.sqrt(5 / 3))
    assert not d.resolved                        # 2.0 < 2.5 x 1.291 = 3.23
    assert difference_se(2.0, 3, 1.0, 3) == pytest.approx(math.sqrt(5 / 3))


def test_paired_difference_by_hand():
    # per-seed differences 1, 2, 3: mean 2, sd 1, se 1 / sqrt(3) = 0.577 -> 3.46 se: resolved
    d = difference([2.0, 4.0, 6.0], [1.0, 2.0, 3.0], paired=True)
    assert d.delta == pytest.approx(2.0) and d.se == pytest.approx(1 / math.sqrt(3))
    assert d.resolved and d.text() == "+2.0 [0.6] resolved"
    with pytest.raises(ValueError):
        difference([1.0, 2.0], [1.0], paired=True)


def test_one_seed_is_never_resolved():
    d = difference([5.0], [1.0, 2.0, 3.0])
    assert math.isnan(d.se) and not d.resolved and "n/a" in d.text()


def test_stage1_learns_by_hand():
    run = lambda pos, prior: {"diagnostics": {"diag_s1_pos_iou": {"last": pos},
                                              "diag_s1_prior_iou": {"last": prior}}}
    assert stage1_learns([run(0.62, 0.55), run(0.60, 0.56)])       # gaps 0.07, 0.04: mean 0.055
    assert not stage1_learns([run(0.58, 0.55), run(0.60, 0.56)])   # mean 0.035
    assert stage1_learns([{"AR1000": 1.0}]) is None                 # no diagnostics: unknown


def test_experiment3_rule():
    table = {"t3_sads": [60.0, 61.0, 62.0],
             "sc_rpn_rescored": [60.0, 61.0, 62.0], "sc_rpn_notest": [60.1, 60.9, 62.0],
             "x3_mask_test_only": [62.0, 63.0, 64.0], "x3_mask_test_only_notest": [61.0, 61.9, 63.1],
             "x3_mask_single": [60.5, 61.0, 61.5], "x3_mask_single_notest": [60.5, 61.0, 61.5]}
    out = experiment3(lambda row: table.get(row, []), lambda row: [0.3, 0.4, 0.5])
    r = out["readings"]
    # test_only: paired differences 1.0, 1.1, 0.9: mean 1.0, se 0.1 / sqrt 3 -> resolved gain
    assert r["test_only"]["works"] and r["test_only"]["iou_aware_vs_cls_only"].resolved
    assert not r["literal"]["works"] and not r["single"]["works"]
    assert out["verdict"] == "reproduces once the mask is read as test_only"
    assert r["literal"]["spearman"] == pytest.approx(0.4)
    pending = experiment3(lambda row: table.get(row, []) if row != "x3_mask_single" else [], lambda row: [])
    assert pending["verdict"] == "pending" and pending["readings"]["single"]["pending"]


def _diag(gap: float) -> dict:
    return {"diagnostics": {"diag_s1_pos_iou": {"last": 0.55 + gap}, "diag_s1_prior_iou": {"last": 0.55}}}


def test_experiment1_rule_by_hand():
    from scrpn.study.verdicts import experiment1

    ar = {"rpn": [43.0, 43.5, 43.4], "cascade_rpn": [40.0, 19.0, 33.9],
          "x1a_cascade_mmdet_norm": [44.0, 30.0, 46.0],      # beats RPN on average, sd 8.7: no
          "x1b_cascade_lr0005": [38.0, 38.5, 39.0],          # stable, below RPN, above nothing resolved
          "x1c_cascade_norm_lr": [47.0, 47.5, 48.0],         # +4.2 [0.4]: works
          "x1d_cascade_faithful": [46.0]}                    # one seed: pending
    learns = {"x1c_cascade_norm_lr": 0.10, "x1a_cascade_mmdet_norm": 0.10, "x1b_cascade_lr0005": 0.01}

    def values(row):
        return ar[row]

    def records(row):
        return [_diag(learns.get(row, 0.0))] * len(ar[row])

    out = experiment1(values, records)
    assert out["arms"]["A"]["works"] is False and out["arms"]["A"]["sd"] > 2.0
    assert out["arms"]["B"]["works"] is False and out["arms"]["B"]["stage1_learns"] is False
    c = out["arms"]["C"]
    assert c["works"] and c["vs_rpn"].delta == pytest.approx(47.5 - 43.3)
    assert out["arms"]["D"] == {"row": "x1d_cascade_faithful", "pending": True, "seeds": 1}
    # C is the first working arm and every arm before it is complete: the verdict does not wait for D
    assert out["verdict"] == "reproduces once faithful: arm C (normalisers and lr)"
    ar["x1c_cascade_norm_lr"] = [40.0, 40.5, 41.0]       # now nothing works and D is pending
    assert experiment1(values, records)["verdict"] == "pending"
    ar["x1d_cascade_faithful"] = [39.0, 39.5, 40.0]
    out = experiment1(values, records)
    assert out["verdict"].startswith("robust: no arm beats RPN")


def test_experiment7_rule_by_hand():
    from scrpn.study.verdicts import experiment7

    mini = {"rpn": [43.0, 43.5, 43.4], "iterative_rpn": [44.8], "ga_rpn": [40.0], "cascade_rpn": [31.0],
            "sc_rpn": [60.5]}
    # mini order: sc_rpn 60.5, iterative 44.8, rpn 43.3, ga 40.0, cascade 31.0
    same = {"x7_rpn": [50.0], "x7_iterative_rpn": [51.0], "x7_ga_rpn": [49.0], "x7_cascade_rpn": [45.0],
            "x7_sc_rpn": [62.0]}
    table = {**mini, **same}
    out = experiment7(lambda row: table.get(row, []))
    assert out["verdict"] == "robust to geometry"
    assert out["peer_minus_rpn"] == {"cascade_rpn": -5.0, "ga_rpn": -1.0}
    # GA-RPN 1.4 above RPN: the order changes (GA over RPN) but not by the 1.5 margin
    table = {**mini, **same, "x7_ga_rpn": [51.4]}
    assert experiment7(lambda row: table.get(row, []))["verdict"] == (
        "robust to geometry (order changed within the margin)")
    # Cascade RPN 1.6 above: regime-dependent
    table = {**mini, **same, "x7_cascade_rpn": [51.6]}
    assert experiment7(lambda row: table.get(row, []))["verdict"] == (
        "regime-dependent: cascade_rpn above RPN in the paper's geometry")
    table = {**mini, **same}
    del table["x7_sc_rpn"]
    assert experiment7(lambda row: table.get(row, []))["verdict"] == "pending"
