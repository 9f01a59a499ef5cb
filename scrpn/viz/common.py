"""The drawing, saving and single-image helpers every figure module shares (issue 20).

One implementation each, used by ``figures.py`` (the paper's figures), ``teaching.py`` (notebook
11) and ``sads_inspector.py`` (notebook 10):

* :func:`display_image` -- any image a notebook holds (a (3, H, W) network input, an (H, W, 3)
  array, uint8 or float) as an array ``imshow`` draws;
* :func:`draw_box` -- one xyxy box as an unfilled rectangle;
* :func:`save_figure` -- ``<name>.png`` and ``<name>.pdf`` (the PDF without a creation date, so a
  re-run rewrites it byte for byte);
* :func:`run_head` -- a proposal network's head outputs for one image, padded as the collate
  function pads, the model's mode restored, computed on one CPU thread (:func:`one_thread`), so
  that a figure drawn from them has the same bytes under any thread count (issue 39);
* :func:`model_selection` -- the proposals the model itself keeps for that image (its own
  per-level top-k, NMS per level and across levels: :func:`scrpn.models.postprocess.
  select_proposal_indices`), as indices into the head outputs, so that a figure can draw the
  points or stage-1 boxes of exactly the proposals the model returns.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import Tensor, nn

from ..data.collate import padded_size
from ..detectors.two_stage_detector import TwoStageDetector
from ..models.proposal_network import ProposalNetwork
from ..outputs import atomic_write

__all__ = ["display_image", "draw_box", "model_selection", "one_thread", "padded_image", "run_head", "save_figure"]


def display_image(image: Any) -> np.ndarray:
    """numpy (H, W), (H, W, C) or torch / numpy (C, H, W) -> (H, W) or (H, W, 3) float in [0, 1].

    uint8 images are divided by 255; float images already inside [0, 1] are kept; any other float
    image (e.g. a mean/std-normalised network input) is min-max stretched for display. A
    one-channel image becomes (H, W) (drawn in grey).
    """
    arr = image.detach().cpu().numpy() if isinstance(image, Tensor) else np.asarray(image)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = np.transpose(arr, (1, 2, 0))
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3):
        raise ValueError(f"cannot display an image of shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    arr = arr.astype(np.float32)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if lo >= 0.0 and hi <= 1.0:
        return arr
    return (arr - lo) / max(hi - lo, 1e-12)


def draw_box(ax: Axes, box: Any, color: str, lw: float = 1.5, ls: str = "-", alpha: float = 1.0,
             label: Optional[str] = None) -> Rectangle:
    """Add one (x1, y1, x2, y2) box to ``ax`` as an unfilled rectangle; returns the patch."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(box, dtype=np.float64).ravel()[:4])
    patch = Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=lw,
                      linestyle=ls, alpha=alpha, label=label)
    ax.add_patch(patch)
    return patch


def save_figure(fig: Figure, name: str, out_dir: str | Path, dpi: int = 150) -> list[Path]:
    """Write ``<out_dir>/<name>.png`` (at ``dpi``) and ``<out_dir>/<name>.pdf``; creates the folder.

    Returns the two paths, PNG first. The PDF records no creation date and neither file the
    matplotlib version, so an unchanged figure is rewritten byte for byte
    (``tests/test_staleness.py`` compares every committed figure with a fresh rendering).
    """
    if not name or Path(name).name != name:
        raise ValueError(f"figure name must be a plain file stem, got {name!r}")
    out = Path(out_dir)
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    # atomic (scrpn.outputs): a run killed while saving leaves the previous figure
    atomic_write(paths[0], lambda stream: fig.savefig(stream, format="png", dpi=dpi,
                                                      bbox_inches="tight",
                                                      metadata={"Software": None}))
    atomic_write(paths[1], lambda stream: fig.savefig(stream, format="pdf", bbox_inches="tight",
                                                      metadata={"CreationDate": None,
                                                                "Producer": None}))
    return paths


@contextmanager
def one_thread() -> Iterator[None]:
    """Run the block on one CPU thread, then restore torch's count. A convolution's float sums
    depend on how its work is split across threads; a figure that runs a model inside this block
    gives the same bytes on a one-thread CI worker and a user's two cores
    (``tests/test_figures.py: test_run_head_is_thread_count_independent``)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def padded_image(image: Tensor, size_divisor: int = 32) -> Tensor:
    """(3, H, W) or (1, 3, H, W) -> (1, 3, Hp, Wp), zero-padded right / bottom as the collate does."""
    x = image if image.dim() == 4 else image[None]
    if x.shape[0] != 1:
        raise ValueError(f"one image at a time, got a batch of {x.shape[0]}")
    h, w = int(x.shape[-2]), int(x.shape[-1])
    ph, pw = padded_size([(h, w)], size_divisor)
    return F.pad(x.float(), (0, pw - w, 0, ph - h))


def proposal_network_of(model: nn.Module) -> ProposalNetwork:
    """The proposal network of ``model``: itself, or an R-CNN detector's proposal part."""
    if isinstance(model, ProposalNetwork):
        return model
    if isinstance(model, TwoStageDetector):
        return model.proposal_network
    raise ValueError(f"model must be a proposal network (ProposalNetwork, or a TwoStageDetector "
                     f"around one), got {type(model).__name__}")


@torch.no_grad()
def run_head(model: nn.Module, image: Tensor, size_divisor: int = 32) -> Any:
    """The head outputs (``HeadOutputs`` / ``GAOutputs``) of one image, batch of one, in eval mode
    (the model's mode is restored). The image is padded as in training and evaluation, so the
    outputs line up with the priors of the padded size."""
    net = proposal_network_of(model)
    device = next(net.parameters()).device
    x = padded_image(image, size_divisor).to(device)
    was_training = net.training
    net.eval()
    try:
        with one_thread():
            return net.head_outputs(x, [tuple(int(v) for v in image.shape[-2:])])
    finally:
        net.train(was_training)


@torch.no_grad()
def model_selection(model: nn.Module, out: Any, img_shape: Sequence[int],
                    max_per_img: Optional[int] = None) -> tuple[Tensor, Tensor, Tensor]:
    """What the model returns for the image ``out`` came from, as (indices into the head outputs,
    clipped boxes, scores): its test-time score (IoU-aware when it uses it) and its own selection
    with its ``test_cfg`` (``max_per_img`` overrides the count): :meth:`ProposalNetwork.select`."""
    net = proposal_network_of(model)
    return net.select(out, [(int(img_shape[0]), int(img_shape[1]))], max_per_img)[0]
