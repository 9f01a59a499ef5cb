"""Visualisation tools: figures for the study, teaching views and the SADS inspector.

Submodules are imported on demand (``from scrpn.viz.sads_inspector import ...``) so that importing
the package never pulls in matplotlib or ipywidgets.
"""
