"""Box heads of the R-CNN stage: pooled RoI features in, class logits and box deltas out.

Both heads share one contract so that :class:`scrpn.detectors.roi_head.RoIStage` never needs to
know which one it runs: ``forward(cls_feats, reg_feats) -> (cls_logits (N, K + 1), deltas (N, R * 4))``
where ``cls_feats`` and ``reg_feats`` are (N, C, S, S) RoIAlign outputs (the same tensor unless the
head asks for enlarged regression RoIs, :attr:`reg_roi_scale` > 1), column 0 of the logits is the
background (torchvision's convention; the datasets' labels are 1..K) and ``R`` is K
(class-specific regression, mmdetection's default) or 1 (class agnostic, Cascade R-CNN).

* :class:`Shared2FCBBoxHead`: mmdetection's ``Shared2FCBBoxHead`` (flatten, two shared FC + ReLU,
  then ``fc_cls`` and ``fc_reg``); classification weights ~ N(0, 0.01), regression ~ N(0, 0.001),
  FCs Xavier-uniform, as mmdetection initialises them.
* :class:`DoubleConvFCBBoxHead`: Double-Head R-CNN (Wu et al., CVPR 2020) as in mmdetection's
  ``DoubleConvFCBBoxHead``: an FC branch classifies, a conv branch (a residual block that widens
  to ``conv_channels``, ``num_convs`` bottleneck blocks, global average pooling) regresses, and
  the regression RoIs are enlarged by ``reg_roi_scale`` (1.3 in the paper's config).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DoubleConvFCBBoxHead", "Shared2FCBBoxHead"]


def _fc_stack(in_features: int, width: int, num_fcs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(num_fcs):
        fc = nn.Linear(in_features if i == 0 else width, width)
        nn.init.xavier_uniform_(fc.weight)
        nn.init.zeros_(fc.bias)
        layers += [fc, nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def _predictor(in_features: int, out_features: int, std: float) -> nn.Linear:
    fc = nn.Linear(in_features, out_features)
    nn.init.normal_(fc.weight, std=std)
    nn.init.zeros_(fc.bias)
    return fc


class Shared2FCBBoxHead(nn.Module):
    """Flatten -> ``num_fcs`` shared FC layers -> (class logits, box deltas)."""

    reg_roi_scale = 1.0

    def __init__(self, in_channels: int, roi_size: int, num_classes: int, fc_channels: int = 1024,
                 num_fcs: int = 2, class_agnostic: bool = False) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.class_agnostic = class_agnostic
        self.shared_fcs = _fc_stack(in_channels * roi_size * roi_size, fc_channels, num_fcs)
        self.fc_cls = _predictor(fc_channels, num_classes + 1, std=0.01)
        self.fc_reg = _predictor(fc_channels, 4 * (1 if class_agnostic else num_classes), std=0.001)

    def forward(self, cls_feats: Tensor, reg_feats: Tensor) -> tuple[Tensor, Tensor]:
        x = self.shared_fcs(cls_feats.flatten(1))                           # (N, fc)
        return self.fc_cls(x), self.fc_reg(x)


class _ResBlock(nn.Module):
    """conv-BN-ReLU blocks with an identity (or 1x1 projection) shortcut.

    ``bottleneck=False``: mmdetection's ``BasicResBlock`` (3x3 then 1x1 to ``out``, 1x1 shortcut);
    ``bottleneck=True``: ResNet's bottleneck (1x1 to out/4, 3x3, 1x1 back), identity shortcut.
    """

    def __init__(self, cin: int, cout: int, bottleneck: bool) -> None:
        super().__init__()
        if bottleneck:
            mid = max(cout // 4, 1)
            shapes = [(cin, mid, 1), (mid, mid, 3), (mid, cout, 1)]
        else:
            shapes = [(cin, cin, 3), (cin, cout, 1)]
        layers: list[nn.Module] = []
        for i, (a, b, k) in enumerate(shapes):
            layers += [nn.Conv2d(a, b, k, padding=k // 2, bias=False), nn.BatchNorm2d(b)]
            if i < len(shapes) - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        self.shortcut = (nn.Identity() if cin == cout else
                         nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class DoubleConvFCBBoxHead(nn.Module):
    """Double-Head: FC branch -> class logits; conv branch -> box deltas.

    The BN layers of the conv branch train normally (they see all RoIs of the batch at once, a few
    hundred to thousands of samples, unlike the frozen backbone's BN).
    """

    def __init__(self, in_channels: int, roi_size: int, num_classes: int, fc_channels: int = 1024,
                 num_fcs: int = 2, conv_channels: int = 1024, num_convs: int = 4,
                 class_agnostic: bool = False, reg_roi_scale: float = 1.3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.class_agnostic = class_agnostic
        self.reg_roi_scale = reg_roi_scale
        blocks: list[nn.Module] = [_ResBlock(in_channels, conv_channels, bottleneck=False)]
        blocks += [_ResBlock(conv_channels, conv_channels, bottleneck=True) for _ in range(num_convs)]
        self.reg_convs = nn.Sequential(*blocks)
        self.cls_fcs = _fc_stack(in_channels * roi_size * roi_size, fc_channels, num_fcs)
        self.fc_cls = _predictor(fc_channels, num_classes + 1, std=0.01)
        self.fc_reg = _predictor(conv_channels, 4 * (1 if class_agnostic else num_classes), std=0.001)

    def forward(self, cls_feats: Tensor, reg_feats: Tensor) -> tuple[Tensor, Tensor]:
        x_reg = self.reg_convs(reg_feats).mean(dim=(2, 3))                   # (N, conv)
        x_cls = self.cls_fcs(cls_feats.flatten(1))                           # (N, fc)
        return self.fc_cls(x_cls), self.fc_reg(x_reg)
