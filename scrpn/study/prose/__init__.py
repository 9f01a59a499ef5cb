"""The study's prose, written from its numbers: nothing here is typed by hand.

* :mod:`.comparisons`: the notebooks' "what we see" paragraphs and compact tables, each sentence
  computed from the table frame it follows (how a comparison is classified, which pairs each
  table compares);
* :mod:`.readme`: README's rendered blocks (what we found, the results table, the cost line);
* :mod:`.table1`: Table I at experiment 10's converged schedule S*, which README and the REPORT
  both show.

The REPORT is :mod:`scrpn.study.report`'s (its sources, fields and rendered blocks).
``python -m scrpn.study.prose --readme`` writes README's blocks and the whole REPORT.
"""
from .comparisons import (CAUSES, COMPARISONS, HEADLINE, Cause, Comparison, classify, compact_table, comparisons,
                          markdown_table, pair_label, row_label, what_we_see)
from .readme import NOTEBOOK_OF, README_BLOCKS, readme_block, write_readme_blocks

__all__ = ["CAUSES", "COMPARISONS", "HEADLINE", "NOTEBOOK_OF", "README_BLOCKS", "Cause", "Comparison", "classify",
           "compact_table", "comparisons", "markdown_table", "pair_label", "readme_block", "row_label",
           "what_we_see", "write_readme_blocks"]
