"""Visualisation tools: figures for the study, teaching views and the SADS inspector.

Submodules are imported on demand (``from scrpn.viz.sads_inspector import ...``) so that importing
the package never pulls in matplotlib or ipywidgets. The inspector's API is importable from here
too (``from scrpn.viz import inspect_sads``): the names below load their module on first use.
"""
from __future__ import annotations

from typing import Any

_LAZY = {"inspect_sads": "sads_inspector", "compare": "sads_inspector",
         "plot_comparison": "sads_inspector", "resolve_setting": "sads_inspector",
         "Inspection": "sads_inspector", "InspectorError": "sads_inspector",
         "SADSInspector": "inspector_widget"}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'scrpn.viz' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
