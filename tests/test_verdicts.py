"""The arithmetic of the pre-registered rules (each experiment's module in scrpn/study/experiments/,
the shared statistics in scrpn/study/stats.py), on hand-computed numbers."""
from __future__ import annotations

import math

import pytest

from scrpn.study.experiments.e3_iou_mask import experiment3
from scrpn.study.stats import Difference, difference, difference_change, difference_se
from scrpn.study.verdicts import stage1_learns


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


def test_difference_change_by_hand():
    # +13.2 [0.3] at 8x against +17.2 [0.4] at mini: -4.0, se sqrt(0.09 + 0.16) = 0.5 -> 8 se
    moved = difference_change(Difference(13.2, 0.3, 3), Difference(17.2, 0.4, 3))
    assert moved.delta == pytest.approx(-4.0) and moved.se == pytest.approx(0.5) and moved.n == 3
    assert moved.resolved
    # +1.0 against +0.0 with se 0.3 and 0.4: 1.0 < 2.5 x 0.5, not resolved
    assert not difference_change(Difference(1.0, 0.3, 3), Difference(0.0, 0.4, 2)).resolved
    # a one-seed side has no se, so no change is ever resolved through it
    one = difference_change(Difference(9.0, math.nan, 1), Difference(0.0, 0.4, 3))
    assert math.isnan(one.se) and not one.resolved and one.n == 1


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
    from scrpn.study.experiments.e1_cascade_rpn import experiment1

    ar = {"rpn": [43.0, 43.5, 43.4], "diag_cascade_rpn_paper_norm": [40.0, 19.0, 33.9],
          "x1a_cascade_mmdet_norm": [44.0, 30.0, 46.0],      # beats RPN on average, sd 8.7: no
          "x1b_cascade_lr0005": [38.0, 38.5, 39.0],          # stable, below RPN, above nothing resolved
          "x1c_cascade_norm_lr": [47.0, 47.5, 48.0],         # +4.2 [0.4]: works
          "x1d_cascade_faithful": [46.0]}                    # one seed: pending
    learns = {"x1c_cascade_norm_lr": 0.10, "x1a_cascade_mmdet_norm": 0.10, "x1b_cascade_lr0005": 0.01}

    def values(row):
        return ar.get(row, [])

    def records(row):
        return [_diag(learns.get(row, 0.0))] * len(values(row))

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
    assert experiment1(values, records)["verdict"] == "pending"      # arm E decides what is left
    ar["x1e_cascade_4x"] = [43.5]          # +0.2 over RPN's mean; RPN's sd 0.26: 2.5 sd is 0.66
    learns["x1e_cascade_4x"] = 0.10
    out = experiment1(values, records)
    assert out["E"]["vs_rpn"].se == pytest.approx(0.2646, abs=1e-4) and not out["E"]["works"]
    assert out["verdict"].startswith("robust: no arm beats RPN")
    ar["x1e_cascade_4x"] = [44.0]          # +0.7 > 0.66: resolved, stage 1 learns
    assert experiment1(values, records)["verdict"] == "schedule: only today's config at 4x iterations beats RPN"


def test_experiment7_rule_by_hand():
    from scrpn.study.experiments.e7_geometry import experiment7

    # RPN's mini seeds 42.66 / 43.3 / 43.94: sd 0.64, so the rule's margin is 2.5 x 0.64 = 1.6
    mini = {"rpn": [42.66, 43.3, 43.94], "iterative_rpn": [44.8], "ga_rpn": [40.0], "cascade_rpn": [31.0],
            "sc_rpn": [60.5]}
    # mini order: sc_rpn 60.5, iterative 44.8, rpn 43.3, ga 40.0, cascade 31.0
    same = {"x7_rpn": [50.0], "x7_iterative_rpn": [51.0], "x7_ga_rpn": [49.0], "x7_cascade_rpn": [45.0],
            "x7_sc_rpn": [62.0]}
    table = {**mini, **same}
    out = experiment7(lambda row: table.get(row, []))
    assert out["verdict"] == "robust to geometry"
    assert out["peer_minus_rpn"] == {"cascade_rpn": -5.0, "ga_rpn": -1.0}
    assert out["margin"] == pytest.approx(1.6)
    # GA-RPN 1.55 above RPN: the order changes (GA over RPN) but not by the 1.6 margin
    table = {**mini, **same, "x7_ga_rpn": [51.55]}
    assert experiment7(lambda row: table.get(row, []))["verdict"] == (
        "robust to geometry (order changed within the margin)")
    # Cascade RPN 1.65 above: regime-dependent
    table = {**mini, **same, "x7_cascade_rpn": [51.65]}
    assert experiment7(lambda row: table.get(row, []))["verdict"] == (
        "regime-dependent: cascade_rpn above RPN in the paper's geometry")
    table = {**mini, **same}
    del table["x7_sc_rpn"]
    assert experiment7(lambda row: table.get(row, []))["verdict"] == "pending"


def test_experiment7_pairs_by_hand():
    """Two seeds a row, each x ± 1: sd √2, se of a difference √(2/2 + 2/2) = √2, so a pair is
    resolved at |Δ| ≥ 2.5 √2 = 3.54."""
    from scrpn.study.experiments.e7_geometry import experiment7_pairs

    def two(mean):
        return [mean - 1.0, mean + 1.0]

    mini = {"rpn": two(43), "iterative_rpn": two(45), "ga_rpn": two(30), "cascade_rpn": two(51), "sc_rpn": two(60)}
    paper = {"x7_rpn": two(54), "x7_iterative_rpn": two(53), "x7_ga_rpn": two(56), "x7_cascade_rpn": two(68),
             "x7_sc_rpn": two(70)}
    table = {**mini, **paper}
    out = experiment7_pairs(lambda row: table.get(row, []))
    assert out["pairs"][("rpn", "ga_rpn")]["mini"].delta == 13.0
    assert out["pairs"][("rpn", "ga_rpn")]["paper"].se == pytest.approx(math.sqrt(2))
    # GA-RPN: +13 below RPN at mini (resolved), 2 above in the paper's geometry (not): unresolved;
    # cascade / sc: -9 at mini, -2 in the paper's geometry: unresolved; rpn / iterative -2 / +1
    assert out["unresolved"] == [("rpn", "iterative_rpn"), ("rpn", "ga_rpn"), ("iterative_rpn", "ga_rpn"),
                                 ("cascade_rpn", "sc_rpn")]
    assert len(out["kept"]) == 6 and out["changed"] == []
    assert out["reading"] == "no resolved pair changes order (6 kept, 4 unresolved)"
    # GA-RPN at 60 in the paper's geometry: 6 above RPN and 7 above Iterative RPN, both resolved
    table["x7_ga_rpn"] = two(60)
    out = experiment7_pairs(lambda row: table.get(row, []))
    assert out["changed"] == [("rpn", "ga_rpn"), ("iterative_rpn", "ga_rpn")]
    assert out["reading"] == "the ranking changes: rpn / ga_rpn; iterative_rpn / ga_rpn"
    table["x7_sc_rpn"] = [70.0]                                   # one seed: no se yet
    out = experiment7_pairs(lambda row: table.get(row, []))
    assert out["reading"] == "pending" and len(out["pending"]) == 4


def test_arm_difference_one_seed_uses_the_reference_sd():
    from scrpn.study.stats import arm_difference
    d = arm_difference([45.0], [43.0, 43.5, 43.4])        # mean 43.3, sd 0.2646
    assert d.delta == pytest.approx(1.7) and d.se == pytest.approx(0.2646, abs=1e-4) and d.resolved
    assert not arm_difference([43.9], [43.0, 43.5, 43.4]).resolved   # 0.6 < 2.5 x 0.2646
    assert arm_difference([1.0, 2.0], [1.0, 3.0]).se == pytest.approx(math.sqrt(0.5 / 2 + 2 / 2))


def test_experiment2_rule_by_hand():
    from scrpn.study.experiments.e2_ga_rpn import experiment2
    ar = {"rpn": [43.0, 43.5, 43.4], "ga_rpn_nofilter": [40.0, 41.0, 40.5],
          "x2g1_ga_rpn_mmdet_norm_init": [41.0, 42.0, 41.5], "x2g3_ga_rpn_mmdet3_loc": [46.0, 46.5, 47.0]}
    out = experiment2(lambda row: ar.get(row, []))
    assert not out["arms"]["G0"]["recovers"] and not out["arms"]["G1"]["recovers"]
    assert out["arms"]["G3"]["recovers"] and out["arms"]["G2"]["pending"]
    # G3 recovers and every arm before it in the order G0, G1, G3, G2 is done
    assert out["verdict"] == "reproduces once faithful: arm G3 (mmdetection 3.3's inverted location targets)"
    ar["x2g3_ga_rpn_mmdet3_loc"] = [42.0, 42.5, 43.0]
    assert experiment2(lambda row: ar.get(row, []))["verdict"] == "pending"      # G2 not run
    ar["x2g2_ga_rpn_4x"] = [44.0]                                             # +0.7 > 2.5 x 0.26
    schedule = "schedule: only GA-RPN at 4x iterations beats RPN; at an equal 4x schedule "
    assert experiment2(lambda row: ar.get(row, []))["verdict"] == schedule + "control pending"
    # the amendment's control, RPN at 4x: se from the mini seed sds of ga_rpn (30.4, 31.6, 30.0:
    # variance 0.6933) and rpn (0.07): sqrt(0.7633) = 0.8737, so resolved beyond 2.5 x 0.8737 = 2.184
    ar["ga_rpn"] = [30.4, 31.6, 30.0]
    for control, reading in ((41.5, "above RPN"), (42.0, "level with RPN"), (47.0, "below RPN")):
        ar["x2g2c_rpn_4x"] = [control]
        out = experiment2(lambda row: ar.get(row, []))
        assert out["equal_schedule"]["delta"] == pytest.approx(44.0 - control)
        assert out["equal_schedule"]["se"] == pytest.approx(0.8737, abs=1e-4)
        assert out["verdict"] == schedule + reading
    del ar["x2g2c_rpn_4x"]
    ar["x2g2_ga_rpn_4x"] = [43.5]
    assert experiment2(lambda row: ar.get(row, []))["verdict"] == "robust: no arm beats RPN"


def test_experiment4_rule_by_hand():
    from scrpn.study.experiments.e4_posr import experiment4
    ar = {"t3_sads": [61.0, 61.5, 61.2], "t4_maxiou_sat": [60.8, 61.2, 61.1],              # S0 +0.2
          "x4s1_sads_unitbox": [63.0, 63.2, 62.8], "x4s1_maxiou_sat_unitbox": [61.5, 61.9, 61.7],  # +1.3
          "x4s2_sads_w2": [61.0, 61.1, 61.2], "x4s2_maxiou_sat_w2": [61.0, 61.1, 61.2],
          "x4r_sads_rounded": [61.0, 61.1, 61.2]}
    gaps = {"x4s1_sads_unitbox": 0.1, "x4s1_maxiou_sat_unitbox": 0.08}

    def records(row):
        return [_diag(gaps.get(row, 0.0))] * len(ar.get(row, []))

    out = experiment4(lambda row: ar.get(row, []), records)
    s1 = out["steps"]["S1"]
    assert s1["step"].delta == pytest.approx(1.3) and s1["step"].resolved and s1["stage1_learns"]
    assert not out["steps"]["S0"]["reproduces"]
    assert out["verdict"] == "reproduces once faithful: the UnitBox stage-1 loss (S1)"
    ar["x4s1_sads_unitbox"] = [62.2, 62.4, 62.0]                                      # +0.5: not enough
    out = experiment4(lambda row: ar.get(row, []), records)
    # stage 1 learns under S1 only (margin 0.09 over both rows): R is also due under S1
    assert out["better_stage1_arm"] == "S1" and out["verdict"] == "pending"
    assert out["steps"]["R+S1"]["rows"] == ("x4r_sads_rounded_unitbox", "x4s1_maxiou_sat_unitbox")
    ar["x4r_sads_rounded_unitbox"] = [61.9, 62.0, 62.1]                               # +0.3 over 61.7
    out = experiment4(lambda row: ar.get(row, []), records)
    assert out["verdict"] == "robust: no PosR step reaches +1.0"
    ar["x4r_sads_rounded_unitbox"] = [63.0, 63.2, 62.8]                               # +1.3, resolved
    assert experiment4(lambda row: ar.get(row, []), records)["verdict"] == (
        "reproduces once faithful: the rounded positive region under the UnitBox stage-1 loss (R+S1)")
    gaps.update({"x4s2_sads_w2": 0.2, "x4s2_maxiou_sat_w2": 0.2})                    # S2's margin is larger
    out = experiment4(lambda row: ar.get(row, []), records)
    assert out["better_stage1_arm"] == "S2" and out["verdict"] == "pending"         # x4r_sads_rounded_w2 not run
    del ar["x4r_sads_rounded_unitbox"]
    gaps.clear()
    assert experiment4(lambda row: ar.get(row, []), records)["verdict"] == (
        "robust: no PosR step reaches +1.0 (stage 1 never learned)")
    del ar["x4r_sads_rounded"]
    assert experiment4(lambda row: ar.get(row, []), records)["verdict"] == "pending"


def test_experiment5_rule_by_hand():
    from scrpn.study.experiments.e5_alignment import experiment5
    ar = {"x5l1_alignment_faithful": [50.0, 50.5, 50.2], "t3_two_stage": [52.0, 52.6, 52.3],
          "diag_t3_iou_loss_lr001": [49.5, 50.0, 49.7], "x5l2_two_stage_iou": [47.0, 47.4, 47.2]}
    out = experiment5(lambda row: ar.get(row, []))
    assert out["steps"]["L1"]["step"].delta == pytest.approx(50.2333 - 52.3, abs=1e-3)
    assert out["verdict"] == "reproduces once faithful: the lr confound (L2)"          # +2.5, resolved
    ar["x5l2_two_stage_iou"] = [49.5, 50.0, 49.7]
    assert experiment5(lambda row: ar.get(row, []))["verdict"] == "robust: no alignment step is a resolved gain"


def test_experiment6_rule_by_hand():
    from scrpn.study.experiments.e6_points import experiment6
    ar = {"t3_sads": [61.0, 61.5, 61.2], "x6p0_anchor_sads": [61.2, 61.4, 61.3],
          "x6p1_point_lr0005": [40.0, 41.0, 40.5], "x6p1_iou_loss_lr0005": [47.0, 47.5, 47.2],
          "x6p2_point_offsets05": [49.0, 49.6, 49.4], "diag_t3_iou_loss_lr001": [49.5, 50.0, 49.7]}
    out = experiment6(lambda row: ar.get(row, []))
    assert out["under_sads"] == "no cost"
    assert not out["steps"]["P1"]["reproduces"]                 # -6.7, resolved below
    assert out["steps"]["P2"]["reproduces"]                     # -0.4 [0.3]: not resolved
    assert out["verdict"] == "reproduces once faithful: secondary offsets x0.5 (P2)"
    ar["x6p2_point_offsets05"] = [43.0, 43.6, 43.4]
    assert experiment6(lambda row: ar.get(row, []))["verdict"].startswith("robust (under Max-IoU)")


def test_experiment8_rule_by_hand():
    from scrpn.study.experiments.e8_detectors import experiment8
    ap = {"det_faster_rcnn_sc_rpn": [13.6], "det_faster_rcnn_rpn": [4.4],            # today +9.2
          "x8_det_faster_rcnn_sc_rpn_3x": [20.0], "x8_det_faster_rcnn_rpn_3x": [12.0]}  # 3x +8.0
    out = experiment8(lambda row: ap.get(row, []))
    assert out["gap_today"] == pytest.approx(9.2) and out["closer_by"] == pytest.approx(1.2)
    assert out["verdict"] == "shrinks toward the paper's gap"
    ap["x8_det_faster_rcnn_rpn_3x"] = [11.0]                                          # +9.0: 0.2 closer
    assert experiment8(lambda row: ap.get(row, []))["verdict"] == "does not shrink at 3x"
    assert experiment8(lambda row: {}.get(row, []))["verdict"] == "pending"


def test_experiment9_rule_by_hand():
    from scrpn.study.experiments.e9_deepforest import CARRY_OVER, experiment9

    cascade = CARRY_OVER[:1]                                   # experiment 1's criterion alone
    claim = "Cascade RPN: mmdetection's loss normalisers"
    ar = {"rpn": [53.0, 53.3, 53.6],                           # sd 0.3
          "diag_cascade_rpn_paper_norm": [24.7, 26.2, 56.0],   # the first study's row
          "cascade_rpn": [55.0, 56.0, 57.0]}                   # +2.7, se sqrt(1/3 + 0.09/3) = 0.60
    learns = {"cascade_rpn": 0.10}

    def values(row):
        return ar.get(row, [])

    def records(row):
        return [_diag(learns.get(row, 0.0))] * len(values(row))

    out = experiment9(values, records, cascade)
    c = out["corrections"][claim]
    assert c["vs_reference"].delta == pytest.approx(2.7) and c["vs_reference"].se == pytest.approx(math.sqrt(1 / 3 + 0.09 / 3))
    assert c["carries_over"] and not c["partial"] and out["verdict"] == f"carries over to real images: {claim}"
    # the first study's row has sd 17.7: +12.3 over it is far from resolved (se 10.2)
    assert not c["vs_first_study"].resolved
    learns["cascade_rpn"] = 0.01                                  # stage 1 does not learn: not carried
    assert experiment9(values, records, cascade)["verdict"] == "does not carry over"
    learns["cascade_rpn"] = 0.10
    ar["cascade_rpn"] = [50.0, 53.0, 58.0]                        # sd 4.0 >= 2.0
    assert not experiment9(values, records, cascade)["corrections"][claim]["carries_over"]
    ar["diag_cascade_rpn_paper_norm"] = [20.0, 20.5, 21.0]        # now beaten, resolved: partial
    assert experiment9(values, records, cascade)["verdict"] == f"does not carry over (partial: {claim} beats the first study's row)"
    ar["cascade_rpn"] = [55.0, 56.0]                              # two of three seeds: pending
    assert experiment9(values, records, cascade)["verdict"] == "pending"


def test_experiment9_points_criterion_by_hand():
    """The points correction (experiment 6's amendment) carries over when t3_point is not below
    t3_iou_loss by a resolved margin; it has no first-study row on DeepForest, so no partial
    reading; with both corrections the verdict names each."""
    from scrpn.study.experiments.e9_deepforest import CARRY_OVER, NOT_BELOW, experiment9

    points = [c for c in CARRY_OVER if c.criterion == NOT_BELOW]
    assert [(c.row, c.reference, c.first) for c in points] == [("t3_point", "t3_iou_loss", None)]
    claim = points[0].claim
    ar = {"t3_iou_loss": [50.0, 51.0, 52.0],                   # sd 1.0
          "t3_point": [49.0, 49.0, 49.0]}                      # -2.0, se sqrt(1/3) = 0.577: -3.5 se, resolved
    records = lambda row: [_diag(0.0)] * len(ar.get(row, []))  # noqa: E731 (no stage-1 criterion here)
    out = experiment9(lambda row: ar.get(row, []), records, points)
    c = out["corrections"][claim]
    assert c["vs_reference"].delta == pytest.approx(-2.0) and c["vs_reference"].se == pytest.approx(math.sqrt(1 / 3))
    assert not c["carries_over"] and not c["partial"] and c["vs_first_study"] is None
    assert out["verdict"] == "does not carry over"
    ar["t3_point"] = [50.0, 50.0, 50.0]                       # -1.0 [0.577]: 1.7 se, not resolved: carries
    assert experiment9(lambda row: ar.get(row, []), records, points)["verdict"] == f"carries over to real images: {claim}"
    ar["t3_point"] = [60.0, 61.0, 62.0]                       # far above: carries (sd and stage 1 not asked)
    assert experiment9(lambda row: ar.get(row, []), records, points)["corrections"][claim]["carries_over"]
    # both corrections: Cascade RPN does not carry over (below RPN), points do
    ar.update({"rpn": [53.0, 53.3, 53.6], "cascade_rpn": [27.2, 37.0, 24.3],
               "diag_cascade_rpn_paper_norm": [24.7, 26.2, 56.0]})
    out = experiment9(lambda row: ar.get(row, []), records)
    assert out["verdict"] == f"carries over for {claim}; not for Cascade RPN: mmdetection's loss normalisers"
    ar["t3_iou_loss"] = [50.0, 51.0]                          # a reference seed missing: pending
    assert experiment9(lambda row: ar.get(row, []), records)["verdict"] == "pending"
