"""Proposal evaluation of a model on the validation set: AR (pycocotools) and seconds per image.

Design choices:

* Batch size 1 by default, so that the timing is a per-image latency (the paper's "Time(s)").
  Only the model call is timed (``time.perf_counter``, CUDA synchronised when on a GPU), not the
  data loading; the first ``warmup`` images are run untimed (allocation, lazy initialisation), then
  up to ``cfg.eval.timing_images`` images are timed. All images are evaluated.
* The model answers in the pixels of the resized input image; proposals are mapped back to the
  original image (un-flipped if the sample was flipped, divided by ``scale_factor``, clipped to
  ``orig_size``) because the ground truth of ``ann_file`` is in original pixels.
* The ground truth is what the data loader kept (``dataset.ground_truth()``, see
  :meth:`scrpn.data.coco.CocoDetection.ground_truth`): boxes it skipped do not count as missed
  objects and clipped boxes are scored clipped. A dataset without that method (a test double)
  is scored against its ``ann_file``.
* A ground truth without any object to find is an error (``DataError`` naming the annotation
  file), never all-null metrics; :func:`check_evaluable` checks it before training. The metrics
  carry ``ground_truth``: the file, the images and objects scored and every annotation the
  loader did not count as it is in the file, by reason
  (:func:`scrpn.data.ground_truth.ground_truth_summary`).
* Images the loader skipped as too thin to resize (``unreadable_ids``) stay in the ground truth
  of a full evaluation, their objects missed, so that the dumped proposals score the same
  against the file (``tests/test_bad_input_eval.py``).
* With ``data.val_limit`` only the first n images are run, and the ground truth is restricted to
  those images (a ``COCO`` object holding only their images and annotations) before calling
  :func:`scrpn.evaluation.evaluate_proposals`, which otherwise counts every ground-truth image
  without proposals as missed.
* Under ``torchrun`` (:mod:`scrpn.engine.distributed`) rank ``r`` of ``N`` runs images ``r, r + N,
  ...``; rank 0 gathers every rank's proposals and timings (``gather_object``), restores the image
  order and computes the metrics; the other ranks return ``None``.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
from pycocotools.coco import COCO
from torch import Tensor, nn
from torch.utils.data import Dataset, Subset
from tqdm import tqdm

from scrpn.config import Config
from scrpn.engine.builders import first_n, make_val_loader
from scrpn.engine.distributed import dist_info, gather_to_main
from scrpn.engine.logging import read_jsonl, summarise_diagnostics
from scrpn.engine.memory_format import images_in, set_model_format
from scrpn.engine.provenance import record_fields
from scrpn.engine.precision import autocast, check_precision, eval_precision
from scrpn.evaluation import (detections_to_coco_results, dump_proposals, evaluate_detections,
                              evaluate_proposals, json_safe_metrics)
from scrpn.evaluation.proposal_stats import proposal_stats, save_stats
from scrpn.data.ground_truth import ground_truth_summary, require_objects
from scrpn.evaluation.proposals import load_coco_gt, quiet
from scrpn.outputs import atomic_write_text

__all__ = ["check_evaluable", "evaluate_model", "ground_truth_of", "predict_proposals", "subset_coco",
           "to_original_coords", "write_metrics"]


def to_original_coords(boxes: Tensor, target: Mapping[str, Any]) -> Tensor:
    """Map (K, 4) xyxy boxes from the network input's pixels back to the original image."""
    boxes = boxes.detach().to("cpu", torch.float32).clone()
    if target.get("flipped", False):
        width = float(target["img_shape"][1])
        boxes[:, [0, 2]] = width - boxes[:, [2, 0]]
    boxes /= float(target["scale_factor"])
    orig_h, orig_w = (float(v) for v in target["orig_size"])
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0.0, orig_w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0.0, orig_h)
    return boxes


def subset_coco(coco: COCO, image_ids: Sequence[int]) -> COCO:
    """A ``COCO`` object with only ``image_ids`` and their annotations (same categories)."""
    keep = set(int(i) for i in image_ids)
    dataset = {key: value for key, value in coco.dataset.items()
               if key not in ("images", "annotations")}
    dataset["images"] = [img for img in coco.dataset["images"] if img["id"] in keep]
    dataset["annotations"] = [a for a in coco.dataset["annotations"] if a["image_id"] in keep]
    subset = COCO()
    subset.dataset = dataset
    with quiet():
        subset.createIndex()
    return subset


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def predict_proposals(model: nn.Module, dataset: Dataset, cfg: Config, device: torch.device,
                      warmup: int = 2, batch_size: int = 1, progress: bool = False
                      ) -> tuple[list[dict], list[float]]:
    """Run ``model`` over ``dataset``; return proposals in original pixels and timed seconds/image.

    ``progress``: a bar over the images on stderr (the CLI's, unless ``--no-progress``)."""
    loader = make_val_loader(dataset, cfg, batch_size=batch_size)
    bar = tqdm(total=len(dataset), desc="evaluate", unit="img", disable=not progress,
               dynamic_ncols=True)
    if len(dataset) <= warmup:
        warmup = 0  # too few images to spare any: time them all rather than report nothing
    timed_until = warmup + cfg.eval.timing_images
    precision = eval_precision(cfg.eval.precision, cfg.train.precision)   # bf16: autocast (issue 37)
    check_precision(precision, device, "eval.precision")
    proposals, seconds, seen = [], [], 0
    for images, targets in loader:
        images = images_in(images.to(device), cfg.train.memory_format)
        _synchronize(device)
        start = time.perf_counter()
        with autocast(precision, device):
            outputs = model(images, targets)
        _synchronize(device)
        elapsed = time.perf_counter() - start
        if warmup <= seen and seen + len(targets) <= timed_until:
            seconds.append(elapsed / len(targets))
        seen += len(targets)
        for output, target in zip(outputs, targets):
            entry = {"image_id": int(target["image_id"]),
                     "boxes": to_original_coords(output["boxes"], target).numpy(),
                     "scores": output["scores"].detach().to("cpu", torch.float32).numpy()}
            if "labels" in output:  # a detector (scrpn.detectors): labels 1..K
                entry["labels"] = output["labels"].detach().to("cpu").numpy()
            proposals.append(entry)
        bar.update(len(targets))
    bar.close()
    return proposals, seconds


def ground_truth_of(dataset: Dataset) -> Any:
    """What evaluation counts as the objects of ``dataset``: the annotations its loader kept
    (``dataset.ground_truth()``), else its annotation file."""
    return dataset.ground_truth() if hasattr(dataset, "ground_truth") else dataset.ann_file


def label_to_category_of(dataset: Dataset) -> Mapping[int, int] | None:
    """The dataset's map from labels 1..K to COCO category ids (``None``: labels are the ids,
    as for SynthShapes, whose categories are 1..8)."""
    return getattr(dataset, "label_to_cat_id", None)


def evaluate_model(model: nn.Module, dataset: Dataset, cfg: Config,
                   device: str | torch.device = "cpu", proposals_path: str | Path | None = None,
                   batch_size: int = 1, warmup: int = 2,
                   stats_path: str | Path | None = None,
                   progress: bool = False) -> dict[str, Any] | None:
    """AR metrics of ``model`` on ``dataset`` (first ``cfg.data.val_limit`` images), in percent.

    Returns ``evaluate_proposals``' keys plus ``seconds_per_image`` (NaN if nothing was timed)
    and ``num_images``. ``proposals_path`` optionally receives the proposals as COCO results json.
    A detector (``model.produces_detections``, :mod:`scrpn.detectors`) gets COCO box AP instead
    (``evaluate_detections``' keys, labels mapped by the dataset's ``label_to_cat_id``), and
    ``proposals_path`` then receives its detections.
    ``stats_path`` (proposal networks only) receives :func:`proposal_stats` of the proposals,
    the IoU statistics the study's figures are drawn from.
    When distributed, only rank 0 gets the metrics; the other ranks get ``None``.
    ``progress``: a bar over the images (rank 0 only).
    """
    device = torch.device(device)
    info = dist_info()
    indices = list(first_n(dataset, cfg.data.val_limit))[info.rank::info.world_size]
    subset = dataset if len(indices) == len(dataset) else Subset(dataset, indices)
    was_training = model.training
    set_model_format(model, cfg.train.memory_format)
    model.eval()
    try:
        with torch.inference_mode():
            proposals, seconds = predict_proposals(model, subset, cfg, device, warmup, batch_size,
                                                   progress=progress and info.rank == 0)
    finally:
        model.train(was_training)
    if info.enabled:
        gathered = gather_to_main((proposals, seconds))
        if gathered is None:
            return None
        proposals, seconds = _merge_shards(gathered)
    gt = load_coco_gt(ground_truth_of(dataset))
    evaluated = [p["image_id"] for p in proposals]
    keep = set(evaluated)
    if len(first_n(dataset, cfg.data.val_limit)) == len(dataset):
        # every image: those too thin for the model count too (their objects missed), as when
        # the dumped proposals are scored against the file
        keep |= set(getattr(dataset, "unreadable_ids", ()))
    if set(gt.getImgIds()) != keep:
        gt = subset_coco(gt, sorted(keep))
    source = getattr(dataset, "ann_file", "the validation set")
    require_objects(gt.dataset, source, f"the ground truth of the {len(evaluated)} images evaluated")
    summary = ground_truth_summary(gt.dataset, getattr(dataset, "skipped", {}), source)
    if getattr(getattr(model, "module", model), "produces_detections", False):  # DDP-wrapped too
        # A detector (Tables II, IX): COCO box AP; ``proposals_path`` receives its detections.
        label_map = label_to_category_of(dataset)
        if proposals_path is not None:
            atomic_write_text(proposals_path,
                              json.dumps(detections_to_coco_results(proposals, label_map)))
        metrics = evaluate_detections(gt, proposals, label_map)
        metrics["seconds_per_image"] = sum(seconds) / len(seconds) if seconds else math.nan
        metrics["num_images"] = len(proposals)
        metrics["ground_truth"] = summary
        return metrics
    if proposals_path is not None:
        dump_proposals(proposals_path, proposals)
    if stats_path is not None:
        save_stats(stats_path, proposal_stats(gt, proposals))
    metrics: dict[str, Any] = evaluate_proposals(gt, proposals, max_dets=cfg.eval.max_dets)
    metrics["seconds_per_image"] = sum(seconds) / len(seconds) if seconds else math.nan
    metrics["num_images"] = len(proposals)
    rho = iou_mask_spearman(model, subset, cfg, device)
    if rho is not None:
        metrics["iou_mask_spearman"] = rho
    metrics["ground_truth"] = summary
    return metrics


def check_evaluable(dataset: Dataset, cfg: Config) -> None:
    """Before any work: the images that will be evaluated (the first ``data.val_limit``) must
    hold an object to find, else every metric would be null. Raises ``DataError`` naming the
    annotation file."""
    gt = load_coco_gt(ground_truth_of(dataset))
    ids = [int(i) for i in getattr(dataset, "image_ids", gt.getImgIds())]
    limit = cfg.data.val_limit
    if limit is not None and limit < len(ids):
        gt = subset_coco(gt, ids[:limit])
    source = getattr(dataset, "ann_file", "the validation set")
    require_objects(gt.dataset, source, f"the ground truth of the {len(gt.dataset['images'])} "
                                        "images to evaluate")


def iou_mask_spearman(model: nn.Module, dataset: Dataset, cfg: Config,
                      device: str | torch.device = "cpu", max_images: int = 100) -> float | None:
    """Spearman correlation of the IoU mask with the true IoU on validation positives.

    Over the first ``max_images`` images (of ``cfg.data.val_limit``): the stage-2 positives of the
    head's own stage-2 assigner, the mask as the IoU-aware score uses it
    (:meth:`ProposalNetwork.mask_scores`) against the IoU of their refined boxes with their
    gts. ``None`` for a model without an IoU mask (or a detector); NaN when undefined.
    """
    from scrpn.models.proposal_network import ProposalNetwork
    net = getattr(model, "module", model)              # DDP-wrapped or not
    if not isinstance(net, ProposalNetwork) or not net.has_iou_mask:
        return None
    from scrpn.evaluation.correlation import correlation
    from scrpn.models.heads.iou_mask import positive_mask_and_iou
    device = torch.device(device)
    indices = list(first_n(dataset, cfg.data.val_limit))[:max_images]
    loader = make_val_loader(Subset(dataset, indices), cfg, batch_size=1)
    masks, ious = [], []
    was_training = model.training
    set_model_format(model, cfg.train.memory_format)
    model.eval()
    try:
        with torch.inference_mode():
            for images, targets in loader:
                with autocast(eval_precision(cfg.eval.precision, cfg.train.precision), device):
                    out = net.head_outputs(images_in(images.to(device), cfg.train.memory_format),
                                           [t["img_shape"] for t in targets])   # float32 outputs
                mask = net.mask_scores(out)
                for i, t in enumerate(targets):
                    crowd = t["iscrowd"].bool()
                    gts, ignore = t["boxes"][~crowd].to(device), t["boxes"][crowd].to(device)
                    assign = net.assign(1, out, i, gts, ignore)
                    m, iou = positive_mask_and_iou(mask[i], out.refined_boxes[i], assign, gts)
                    masks.append(m.cpu())
                    ious.append(iou.cpu())
    finally:
        model.train(was_training)
    if not masks:
        return math.nan
    return correlation(torch.cat(masks).numpy(), torch.cat(ious).numpy())["spearman"]


def _merge_shards(shards: Sequence[tuple[list, list]]) -> tuple[list, list]:
    """Rank ``r`` held images ``r, r + N, ...``: interleave the proposals back into image order."""
    proposals: list = []
    for position in range(max(len(part) for part, _ in shards)):
        proposals.extend(part[position] for part, _ in shards if position < len(part))
    seconds = [s for _, times in shards for s in times]
    return proposals, seconds


def write_metrics(path: str | Path, metrics: Mapping[str, Any], cfg: Config,
                  train_seconds: float | None = None, iterations: int | None = None,
                  train_log: str | Path | None = None,
                  training_parts: Optional[Sequence[Mapping[str, Any]]] = None) -> Path:
    """Write ``metrics.json``: the metrics plus what identifies the run (NaN written as null).

    ``train_log``: the run's ``log.jsonl``; when it exists, its diagnostics (stage-1 IoUs, ReLU
    activity, FPN std, gradient norm, clipping) are summarised under ``diagnostics``.
    ``training_parts``: the checkpoint's ``provenance`` (``[]`` when it has none); when given, the
    record says which code and settings trained the run (:func:`scrpn.engine.provenance.record_fields`)."""
    record = {"name": cfg.name, "profile": cfg.profile, "dataset": cfg.data.dataset,
              "seed": cfg.train.seed, "iterations": iterations, "train_seconds": train_seconds}
    record.update(json_safe_metrics(dict(metrics)))
    if training_parts is not None:
        record.update(record_fields(training_parts, iterations))
    if train_log is not None and Path(train_log).is_file():
        summary = summarise_diagnostics(read_jsonl(train_log))
        if summary:
            record["diagnostics"] = {k: json_safe_metrics(v) for k, v in summary.items()}
    return atomic_write_text(path, json.dumps(record, indent=2) + "\n")
