"""What every script in ``benchmarks/`` records beside its timings, and how it writes them.

A timing means little without the machine, the thread count and how busy the machine was (other
processes inflate every arm alike, so the scripts report ratios from one run); each script adds
:func:`machine_record` to its result and saves it with :func:`write_result`.
"""
from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import torch


def machine_record(load_before: float) -> dict:
    """Torch threads and version, the CPU, and the 1-minute load average before and now."""
    return {"torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
            "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "loadavg_1min_before_after": [load_before, os.getloadavg()[0]]}


def write_result(path: str | Path, result: dict) -> Path:
    """Write ``result`` as indented JSON (creating the folder) and say where."""
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output}")
    return output
