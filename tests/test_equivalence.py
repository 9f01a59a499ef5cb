"""Issue 37's registered equivalence rule (``scrpn.study.equivalence``), on hand-computed numbers."""
from __future__ import annotations

import math

import pytest

from scrpn.study.equivalence import BF16_ARMS, bf16_equivalence, equivalence


def test_an_interval_that_crosses_the_margin_is_not_equivalent():
    # bf16 60, 61, 62: mean 61, sd 1; fp32 60, 60.5, 61: mean 60.5, sd 0.5.
    # delta 0.5; se sqrt(1/3 + 0.25/3) = 0.645497; 1.645 se = 1.061843 -> [-0.561843, +1.561843]
    e = equivalence([60.0, 61.0, 62.0], [60.0, 60.5, 61.0])
    assert e.delta == pytest.approx(0.5)
    assert e.se == pytest.approx(0.645497, abs=1e-6)
    assert (e.low, e.high) == (pytest.approx(-0.561843, abs=1e-6), pytest.approx(1.561843, abs=1e-6))
    assert e.equivalent is False


def test_an_interval_inside_the_margin_is_equivalent():
    # both 43, 43.5, 44 shifted by -0.25: delta -0.25; se sqrt(2 x 0.25/3) = 0.408248;
    # 1.645 se = 0.671568 -> [-0.921568, +0.421568], inside +-1.5
    e = equivalence([42.75, 43.25, 43.75], [43.0, 43.5, 44.0])
    assert e.delta == pytest.approx(-0.25)
    assert (e.low, e.high) == (pytest.approx(-0.921568, abs=1e-6), pytest.approx(0.421568, abs=1e-6))
    assert e.equivalent is True
    # a large delta with no spread at all is still outside: 1.6 > 1.5
    assert equivalence([45.1, 45.1], [43.5, 43.5]).equivalent is False


def test_one_seed_decides_nothing_and_the_verdict_needs_both_methods():
    assert equivalence([43.0], [43.0, 44.0]).equivalent is None
    assert math.isnan(equivalence([43.0], [43.0, 44.0]).se)
    inside, outside = [43.0, 43.5, 44.0], [46.0, 46.5, 47.0]   # delta +3: outside
    rows = {"bf16_rpn": inside, "rpn": inside, "sc_rpn": inside}
    per, verdict = bf16_equivalence(rows)
    assert set(per) == {"RPN"} and verdict is None            # SC-RPN not run yet
    per, verdict = bf16_equivalence({**rows, "bf16_sc_rpn": inside})
    assert verdict is True and set(per) == set(BF16_ARMS)
    per, verdict = bf16_equivalence({**rows, "bf16_sc_rpn": outside})
    assert verdict is False and per["SC-RPN"].delta == pytest.approx(3.0)
    # one method already out decides "not equivalent" before the other is in
    assert bf16_equivalence({"bf16_rpn": outside, "rpn": inside})[1] is False


def test_registered_ar1000_reads_the_runs_that_exist(tmp_path):
    import json
    from scrpn.study.equivalence import registered_ar1000
    for row, seed, value in (("rpn", 0, 43.0), ("rpn", 2, 44.0), ("bf16_rpn", 1, 42.5)):
        run = tmp_path / "runs" / row / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"AR1000": value}))
    got = registered_ar1000(tmp_path)
    assert got == {"bf16_rpn": [42.5], "rpn": [43.0, 44.0], "bf16_sc_rpn": [], "sc_rpn": []}
    per, verdict = bf16_equivalence(got)
    assert verdict is None and set(per) == {"RPN"} and per["RPN"].delta == pytest.approx(-1.0)
    assert per["RPN"].equivalent is None      # one bf16 seed: no se yet
