"""SADS inspector, the widget: any image, any box, two assigner settings side by side.

The front end of :mod:`scrpn.viz.sads_inspector` for JupyterLab (notebook 10, ``docs/inspector.md``):

* **image**: SynthShapes val, DeepForest val, a COCO-format dataset (annotation JSON + image
  folder) or an image file (a path, or the upload button); files larger than the profile's
  image size are scaled down to it (the models were trained at that size);
* **objects**: the annotations' boxes, plus boxes drawn on either panel with the mouse ("draw a
  box" mode) or typed as ``x1, y1, x2, y2``; the object list ordered by index, size or aspect
  ratio (smallest, largest, most slender, squarest), or "all objects";
* **A / B**: a setting each (:data:`~scrpn.viz.sads_inspector.PRESETS`: SADS, Max-IoU, PosR +
  ATSS, Cascade RPN's region rule, experiment 4's arms ...), k, sigma, N and PosR's region rule,
  and where the stage-1 boxes come from (the priors, or a checkpoint with weights here);
  positives only one panel has are marked with a magenta square and counted;
* **numbers**: clicking a candidate ("pick a candidate" mode; hovering too) shows its row; the
  candidate table below (A's and B's rows, sortable by any column) is the same DataFrame the API
  returns;
* **zoom and pan**: the mouse wheel zooms around the cursor, "pan" mode drags the view, the
  buttons fit the object or the whole image. The figure is 1000 px wide with 11-pt text (a
  notebook's output in a 1280-px browser at 100 %); the controls wrap in a narrower one.

Mouse input: ``ipyevents`` (an ipywidgets extension; its events carry the position in the
image's own pixels), chosen over ``jupyter-bbox-widget`` and ``ipympl``: one event source gives
drawing, clicking, hovering, the wheel and dragging on the very picture that shows the assignment,
which stays a PNG rendered by the same code as the API's figures (so a saved notebook, papermill
and the browser check see one rendering). Without ``ipyevents`` the widget still works with typed
boxes, the object list and the zoom buttons.

Bad input is shown as one line in the widget (:class:`~scrpn.viz.sads_inspector.InspectorError`),
never a traceback; an unexpected exception is also reduced to one line. Pinned by
``tests/test_sads_inspector.py`` (widget logic, without a browser) and ``scripts/browser_check.py``
(in headless Chromium).
"""
from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any, Optional

import torch

from .sads_inspector import (ORDERS, PRESETS, Inspection, InspectorError, compare, plot_image_only,
                             default_limits, has_weights, inspect_sads, load_image, order_objects,
                             parse_box, plot_comparison, render_comparison, resolve_setting)

__all__ = ["SADSInspector", "SOURCES", "available_checkpoints"]

SOURCES = ("SynthShapes val", "DeepForest val", "COCO-format dataset", "image file")
MODES = ("draw a box", "pick a candidate", "pan")
TABLE_ROWS = 200
PICK_RADIUS_PX = 20.0
_WEIGHTS = re.compile(r"^(?P<row>.+)_seed(?P<seed>\d+)\.pt$")


# rows whose trained checkpoints (work_dirs/study) the widget looks for, besides committed weights
CHECKPOINT_ROWS = ("sc_rpn", "t3_point", "t3_iou_loss", "t3_two_stage", "t3_alignment", "t3_sads",
                   "cascade_rpn", "iterative_rpn", "t4_maxiou_sat", "x4r_sads_rounded",
                   "x4s1_sads_unitbox", "x4s2_sads_w2", "x4r_sads_rounded_unitbox", "x4r_sads_rounded_w2",
                   "x4s1_maxiou_sat_unitbox", "x4s2_maxiou_sat_w2")


def available_checkpoints(results_dir: str | Path = "results", work_dir: str | Path = "work_dirs",
                          profile: str = "mini", seeds: tuple[int, ...] = (0, 1, 2)
                          ) -> list[tuple[str, tuple[str, int]]]:
    """(label, (row, seed)) of every study run with weights here, so that choosing one trains
    nothing: the committed weights (``results/weights/<row>_seed<k>.pt``, SynthShapes rows) and
    the final checkpoints of :data:`CHECKPOINT_ROWS` under ``work_dirs/study``."""
    found: dict[tuple[str, int], str] = {}
    for path in sorted(Path(results_dir, "weights").glob("*_seed*.pt")):
        m = _WEIGHTS.match(path.name)
        if m and not m["row"].startswith(("deepforest_", "coco_")):
            found[(m["row"], int(m["seed"]))] = "committed weights"
    if Path(work_dir, "study").is_dir():
        from ..study.runs import Study

        study = Study(profile=profile, results_dir=results_dir, work_dir=work_dir, train_missing=False,
                      log=lambda _m: None)
        for row in CHECKPOINT_ROWS:
            for seed in seeds:
                if (row, seed) not in found and has_weights(study, row, seed):
                    found[(row, seed)] = "trained checkpoint"
    return [(f"{row} seed {seed} ({kind})", (row, seed)) for (row, seed), kind in sorted(found.items())]


def _css_table(frame: Any, selected: Optional[tuple[str, int]]) -> str:
    """The candidate table as HTML; the selected (panel, location) rows highlighted."""
    cols = list(frame.columns)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = []
    for _, row in frame.head(TABLE_ROWS).iterrows():
        mark = selected is not None and row["panel"] == selected[0] and int(row["location"]) == selected[1]
        cells = []
        for c in cols:
            v = row[c]
            text = (f"{v:.3f}" if isinstance(v, float) and math.isfinite(v) else
                    "" if isinstance(v, float) else str(v))
            cells.append(f"<td>{html.escape(text)}</td>")
        style = ' style="background:#fff2a8"' if mark else ""
        body.append(f"<tr{style}>{''.join(cells)}</tr>")
    more = (f"<p>{len(frame) - TABLE_ROWS} more rows: sort by another column to see them</p>"
            if len(frame) > TABLE_ROWS else "")
    return ('<div class="scrpn-table" style="max-height:420px;overflow:auto;font-size:12px">'
            '<table style="border-collapse:collapse" border="1" cellpadding="3">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}</div>")


def describe_row(panel: str, row: Any) -> str:
    """One candidate's row in words (what a click or hover shows)."""
    thr = row["threshold"]
    compared = ("no IoU threshold (a region rule)" if not math.isfinite(thr) else
                f"threshold {thr:.3f}")
    owner = int(row["assigned_to"])
    verdict = (f"assigned to gt {owner}" if owner >= 0 else row["label"])
    return (f"{panel} · gt {int(row['gt'])} · stage {int(row['stage'])} ({row['assigner']}) · "
            f"{row['level']} location {int(row['location'])} at ({row['x']:.0f}, {row['y']:.0f}): "
            f"IoU {row['iou']:.3f} (stage-1 box {row['stage1_iou']:.3f}), rank {int(row['rank'])}, "
            f"{compared}, {'passes' if row['passes'] else 'fails'} its own rule, "
            f"centre {'inside' if row['inside'] else 'outside'} the gt -> {verdict}")


class SADSInspector:
    """The interactive inspector (module docstring). ``datasets`` maps a source name to a dataset
    (used instead of building it: tests); the other arguments set the opening state."""

    def __init__(self, profile: str = "mini", *, source: str = "SynthShapes val", index: int = 0,
                 gt: Optional[int] = None, order: str = "index", setting_a: str = "SADS (SC-RPN)",
                 setting_b: str = "Max-IoU, both stages", checkpoint_a: Any = None,
                 checkpoint_b: Any = None, stage: int = 2, results_dir: str | Path = "results",
                 work_dir: str | Path = "work_dirs", datasets: Optional[dict] = None,
                 study: Any = None) -> None:
        import ipywidgets as w

        if study is not None:
            profile, results_dir, work_dir = study.profile, study.results_dir, study.work_dir
        self.study = study
        self.profile, self.results_dir = profile, Path(results_dir)
        self._datasets: dict[str, Any] = dict(datasets or {})
        self._cache: dict = {}
        self._inspections: dict = {}
        self._hold = True
        self.image: Optional[torch.Tensor] = None
        self.annotations = torch.zeros(0, 4)
        self.crowd = torch.zeros(0, 4)
        self.user_boxes: list[list[float]] = []
        self.limits: Optional[tuple[float, float, float, float]] = None
        self.selected: Optional[tuple[str, int]] = None
        self.current: dict[str, Inspection] = {}
        self.map = None
        self._press: Optional[tuple[float, float]] = None
        self.error: Optional[str] = None
        narrow = w.Layout(width="150px")
        style = {"description_width": "initial"}

        # image
        self.source = w.Dropdown(options=SOURCES, value=source, description="image", style=style,
                                 layout=w.Layout(width="260px"))
        self.index = w.BoundedIntText(value=index, min=0, max=10**6, description="index", style=style,
                                      layout=narrow)
        self.path = w.Text(placeholder="image file, or COCO annotations .json", description="path",
                           style=style, layout=w.Layout(width="330px"))
        self.image_dir = w.Text(placeholder="COCO image folder", description="images", style=style,
                                layout=w.Layout(width="250px"))
        self.load = w.Button(description="load", layout=w.Layout(width="70px"))
        self.upload = w.FileUpload(accept="image/*", multiple=False, description="upload")
        # objects
        self.order = w.Dropdown(options=ORDERS, value=order, description="order objects by",
                                style=style, layout=w.Layout(width="250px"))
        self.gt = w.Dropdown(description="object", style=style, layout=w.Layout(width="330px"))
        self.typed = w.Text(placeholder="x1, y1, x2, y2", description="box", style=style,
                            layout=w.Layout(width="220px"))
        self.add = w.Button(description="add box", layout=w.Layout(width="90px"))
        self.clear = w.Button(description="clear my boxes", layout=w.Layout(width="120px"))
        self.use_annotations = w.Checkbox(value=True, description="annotations", indent=False,
                                          layout=w.Layout(width="110px"))
        # settings
        ckpts = [("priors (no model)", None)] + available_checkpoints(results_dir, work_dir, profile)
        self.sides: dict[str, dict[str, Any]] = {}
        for name, preset, ckpt in (("A", setting_a, checkpoint_a), ("B", setting_b, checkpoint_b)):
            if ckpt is None or any(v is ckpt or v == ckpt for _, v in ckpts):
                options = ckpts
            else:
                label = ("the notebook's model" if isinstance(ckpt, torch.nn.Module) else
                         f"{ckpt[0]} seed {ckpt[1]}" if isinstance(ckpt, tuple) else str(ckpt))
                options = ckpts + [(label, ckpt)]
            side = {
                "setting": w.Dropdown(options=list(PRESETS), value=preset, description=f"{name}",
                                      style=style, layout=w.Layout(width="330px")),
                "boxes": w.Dropdown(options=options, value=ckpt, description="stage-1 boxes",
                                    style=style, layout=w.Layout(width="330px")),
                "k": w.BoundedIntText(value=9, min=1, max=50, description="k", style=style,
                                      layout=w.Layout(width="90px")),
                "sigma": w.BoundedFloatText(value=0.2, min=0.05, max=1.0, step=0.05,
                                            description="sigma", style=style, layout=w.Layout(width="120px")),
                "n": w.BoundedIntText(value=2, min=1, max=5, description="N", style=style,
                                      layout=w.Layout(width="80px")),
                "rule": w.Dropdown(options=("continuous", "rounded"), description="PosR region",
                                   style=style, layout=w.Layout(width="200px")),
            }
            self.sides[name] = side
            self._defaults(name)
        self.stage = w.ToggleButtons(options=[("stage 1", 1), ("stage 2", 2)], value=stage,
                                     description="stage", style={"button_width": "80px"})
        self.mode = w.ToggleButtons(options=MODES, value=MODES[0], description="mouse",
                                    style={"button_width": "120px"})
        self.zoom_in = w.Button(description="zoom +", layout=w.Layout(width="80px"))
        self.zoom_out = w.Button(description="zoom -", layout=w.Layout(width="80px"))
        self.fit = w.Button(description="fit object", layout=w.Layout(width="90px"))
        self.whole = w.Button(description="whole image", layout=w.Layout(width="100px"))
        # outputs
        self.figure = w.Image(format="png", layout=w.Layout(width="1000px", max_width="100%"))
        self.message = w.HTML()
        self.diff = w.HTML()
        self.selected_row = w.HTML()
        self.sort = w.Dropdown(options=["panel", "gt", "stage", "level", "location", "iou",
                                        "stage1_iou", "rank", "threshold", "assigned", "assigned_to"],
                               value="iou", description="sort by", style=style, layout=w.Layout(width="200px"))
        self.ascending = w.Checkbox(value=False, description="ascending", indent=False)
        self.table = w.HTML()
        self.table_box = w.Accordion(children=[w.VBox([w.HBox([self.sort, self.ascending]), self.table])])
        self.table_box.set_title(0, "candidate table (A and B, selected object)")
        self.table_box.selected_index = None

        wrap = w.Layout(flex_flow="row wrap")  # rows wrap in a narrow notebook, never scroll
        self.widget = w.VBox([
            w.HBox([self.source, self.index, self.path, self.image_dir, self.load, self.upload], layout=wrap),
            w.HBox([self.order, self.gt, self.use_annotations, self.typed, self.add, self.clear],
                   layout=wrap),
            w.HBox([w.VBox([self.sides[s]["setting"], self.sides[s]["boxes"],
                            w.HBox([self.sides[s]["k"], self.sides[s]["sigma"], self.sides[s]["n"],
                                    self.sides[s]["rule"]], layout=wrap)],
                           layout=w.Layout(width="490px")) for s in ("A", "B")], layout=wrap),
            w.HBox([self.stage, self.mode], layout=wrap),
            w.HBox([self.zoom_in, self.zoom_out, self.fit, self.whole], layout=wrap),
            self.message, self.diff, self.figure, self.selected_row, self.table_box])
        self.widget.add_class("scrpn-sads-inspector")
        self._events()
        self._load_image(initial_gt=gt)
        self._hold = False
        self.refresh()

    # ------------------------------------------------------------------ wiring
    def _events(self) -> None:
        def on(widget: Any, handler: Any) -> None:
            widget.observe(lambda change: self._guard(handler), names="value")

        on(self.source, self._on_source)
        on(self.index, self._on_source)
        on(self.order, self._on_order)
        on(self.gt, self._on_gt)
        on(self.use_annotations, self._on_objects)
        on(self.upload, self._on_upload)
        for name, side in self.sides.items():
            side["setting"].observe(lambda c, n=name: self._guard(lambda: self._on_preset(n)), names="value")
            for key in ("boxes", "k", "sigma", "n", "rule"):
                on(side[key], self.refresh)
        on(self.stage, self.refresh)
        on(self.sort, self._update_table)
        on(self.ascending, self._update_table)
        self.load.on_click(lambda _b: self._guard(self._on_load))
        self.add.on_click(lambda _b: self._guard(self._on_add))
        self.clear.on_click(lambda _b: self._guard(self._on_clear))
        self.zoom_in.on_click(lambda _b: self._guard(lambda: self._zoom(1 / 1.5)))
        self.zoom_out.on_click(lambda _b: self._guard(lambda: self._zoom(1.5)))
        self.fit.on_click(lambda _b: self._guard(self._on_fit))
        self.whole.on_click(lambda _b: self._guard(self._on_whole))
        try:
            from ipyevents import Event
        except ImportError:  # typed boxes, the object list and the buttons still work
            self.mouse = self.hover = None
            self.mode.disabled = True
            return
        self.mouse = Event(source=self.figure, watched_events=["mousedown", "mouseup", "wheel"],
                           prevent_default_action=True)
        self.mouse.on_dom_event(lambda event: self._guard(lambda: self.handle_mouse(event)))
        self.hover = Event(source=self.figure, watched_events=["mousemove"], wait=120,
                           throttle_or_debounce="throttle")
        self.hover.on_dom_event(lambda event: self._guard(lambda: self.handle_hover(event)))

    def _guard(self, handler: Any) -> None:
        """Run a handler; any failure becomes one line in the widget (never a traceback)."""
        if self._hold:
            return
        try:
            handler()
        except InspectorError as exc:
            self._show_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - the widget must never show a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self._show_error(f"unexpected {type(exc).__name__}: {first}")

    def _show_error(self, text: str) -> None:
        self.error = text
        self.message.value = (f'<div class="scrpn-message" style="color:#b00020;font-size:14px">'
                              f"cannot inspect: {html.escape(text)}</div>")

    def _defaults(self, name: str) -> None:
        """Set k, sigma, N and the region rule to the preset's own values."""
        side = self.sides[name]
        s = resolve_setting(side["setting"].value, profile=self.profile)
        hold, self._hold = self._hold, True
        try:
            side["k"].value = s.stage2.topk
            side["sigma"].value = s.stage1.center_ratio
            side["n"].value = s.stage2.num_levels
            side["rule"].value = s.stage1.region_rule
        finally:
            self._hold = hold

    # ------------------------------------------------------------------ image and objects
    def _dataset(self, source: str) -> Any:
        if source not in self._datasets:
            from ..engine.builders import build_val_dataset
            from ..study.runs import Study

            dataset = {"SynthShapes val": None, "DeepForest val": "deepforest"}[source]
            study = Study(profile=self.profile, dataset=dataset, results_dir=self.results_dir,
                          train_missing=False, log=lambda _m: None)
            self._datasets[source] = build_val_dataset(study.config("sc_rpn"))
        return self._datasets[source]

    def _coco(self) -> Any:
        key = ("coco", self.path.value.strip(), self.image_dir.value.strip())
        if key not in self._datasets:
            from ..data.coco import CocoDetection

            ann, folder = key[1], key[2]
            if not ann.endswith(".json"):
                raise InspectorError("COCO-format dataset: give the annotation file (.json) in 'path' "
                                     "and its image folder in 'images'")
            if not folder:
                folder = str(Path(ann).parent)
            size = self._profile_size()
            try:
                self._datasets[key] = CocoDetection(ann, folder, max_size=(size, size))
            except Exception as exc:  # noqa: BLE001 - the data layer's one-line errors
                raise InspectorError(str(exc).strip().splitlines()[0] if str(exc).strip()
                                     else f"{ann}: cannot read the dataset") from exc
        return self._datasets[key]

    def _profile_size(self) -> int:
        from ..study.runs import Study

        return int(Study(profile=self.profile, results_dir=self.results_dir, train_missing=False,
                         log=lambda _m: None).config("sc_rpn").data.image_size)

    def _load_image(self, initial_gt: Optional[int] = None, file_bytes: Optional[bytes] = None) -> None:
        source = self.source.value
        self.user_boxes, self.selected, self.limits, self._note = [], None, None, ""
        self.path.layout.display = self.image_dir.layout.display = None
        if source in ("SynthShapes val", "DeepForest val", "COCO-format dataset"):
            dataset = self._dataset(source) if source != "COCO-format dataset" else self._coco()
            if not len(dataset):
                raise InspectorError(f"{source}: the dataset holds no image")
            self.index.max = len(dataset) - 1
            if self.index.value > self.index.max:
                raise InspectorError(f"{source} has {len(dataset)} images: index 0..{len(dataset) - 1}")
            image, gts, crowd, _ = load_image(dataset[self.index.value])
        else:
            if file_bytes is not None:
                import io

                from PIL import Image
                try:
                    with Image.open(io.BytesIO(file_bytes)) as pil:
                        path = Path(self._tmp_dir(), "upload.png")
                        pil.convert("RGB").save(path)
                except Exception as exc:  # noqa: BLE001
                    raise InspectorError(f"the uploaded file is not an image PIL reads ({type(exc).__name__})") from exc
            else:
                path = Path(self.path.value.strip())
                if not self.path.value.strip():
                    raise InspectorError("image file: type its path in 'path' and press load, or upload it")
            image, gts, crowd, scale = load_image(path, max_side=self._profile_size())
            if scale != 1.0:
                self._note = (f"{path.name} scaled by {scale:.3f} to the profile's image size: "
                              "boxes are in the scaled image's pixels")
        self.image = image
        self.annotations = gts if gts is not None else torch.zeros(0, 4)
        self.crowd = crowd if crowd is not None else torch.zeros(0, 4)
        self._update_gt_options(initial_gt)

    def _tmp_dir(self) -> Path:
        import tempfile

        if not hasattr(self, "_tmp"):
            self._tmp = tempfile.TemporaryDirectory(prefix="scrpn_inspector_")
        return Path(self._tmp.name)

    @property
    def gts(self) -> torch.Tensor:
        """The objects inspected: the annotations (when used) and the drawn / typed boxes."""
        own = torch.tensor(self.user_boxes, dtype=torch.float32).reshape(-1, 4)
        return torch.cat([self.annotations if self.use_annotations.value else torch.zeros(0, 4), own])

    def _update_gt_options(self, value: Optional[int] = None) -> None:
        gts = self.gts
        options = [("all objects", -1)]
        if len(gts):
            frame_order = order_objects(gts, self.order.value)
            n_ann = len(self.annotations) if self.use_annotations.value else 0
            for g in frame_order:
                x1, y1, x2, y2 = gts[g].tolist()
                wide, high = x2 - x1, y2 - y1
                kind = "drawn/typed" if g >= n_ann else "annotated"
                aspect = max(wide, high) / max(min(wide, high), 1e-9)
                options.append((f"{g}: {wide:.0f} x {high:.0f} px, aspect {aspect:.1f} ({kind})", g))
        hold, self._hold = self._hold, True
        try:
            self.gt.options = options
            if value is None:
                value = options[1][1] if len(options) > 1 else -1
            self.gt.value = value if any(v == value for _, v in options) else -1
        finally:
            self._hold = hold

    @property
    def gt_index(self) -> Optional[int]:
        return None if self.gt.value in (None, -1) else int(self.gt.value)

    # ------------------------------------------------------------------ handlers
    def _on_source(self) -> None:
        source = self.source.value
        self.path.disabled = self.image_dir.disabled = source in ("SynthShapes val", "DeepForest val")
        if source == "image file" and not self.path.value.strip():
            self.image = None
            self._show_error("image file: type its path in 'path' and press load, or upload it")
            return
        self._load_image()
        self.refresh()

    def _on_load(self) -> None:
        if self.source.value in ("SynthShapes val", "DeepForest val"):
            self.source.value = "image file" if not self.path.value.strip().endswith(".json") \
                else "COCO-format dataset"  # observers load it
            return
        self._load_image()
        self.refresh()

    def _on_upload(self) -> None:
        files = self.upload.value
        if not files:
            return
        item = files[0] if isinstance(files, (tuple, list)) else next(iter(files.values()))
        hold, self._hold = self._hold, True
        try:
            self.source.value = "image file"
        finally:
            self._hold = hold
        self._load_image(file_bytes=bytes(item["content"]))
        self.refresh()

    def _on_order(self) -> None:
        self._update_gt_options(self.gt_index if self.gt_index is not None else None)
        self.refresh()

    def _on_gt(self) -> None:
        self.selected, self.limits = None, None
        self.refresh()

    def _on_objects(self) -> None:
        self._update_gt_options()
        self.refresh()

    def _on_preset(self, name: str) -> None:
        hold, self._hold = self._hold, True
        try:
            self._defaults(name)
        finally:
            self._hold = hold
        self.refresh()

    def add_box(self, box: list[float]) -> None:
        """Add a drawn or typed box (image pixels) and select it."""
        from .sads_inspector import check_boxes

        if self.image is None:
            raise InspectorError("load an image first")
        check_boxes([box], (int(self.image.shape[-2]), int(self.image.shape[-1])), "the new box")
        self.user_boxes.append([float(v) for v in box])
        self._update_gt_options(len(self.gts) - 1)
        self.selected, self.limits = None, None
        self.refresh()

    def _on_add(self) -> None:
        self.add_box(parse_box(self.typed.value))

    def _on_clear(self) -> None:
        self.user_boxes = []
        self._update_gt_options()
        self.refresh()

    def _zoom(self, factor: float, centre: Optional[tuple[float, float]] = None) -> None:
        x0, x1, y0, y1 = self._limits()
        cx, cy = centre if centre is not None else ((x0 + x1) / 2, (y0 + y1) / 2)
        self.limits = (cx - (cx - x0) * factor, cx + (x1 - cx) * factor,
                       cy - (cy - y0) * factor, cy + (y1 - cy) * factor)
        self.refresh()

    def _on_fit(self) -> None:
        self.limits = None
        self.refresh()

    def _on_whole(self) -> None:
        h, w = int(self.image.shape[-2]), int(self.image.shape[-1])
        self.limits = (0.0, float(w), 0.0, float(h))
        self.refresh()

    def _limits(self) -> tuple[float, float, float, float]:
        if self.limits is not None:
            return self.limits
        if "A" in self.current:
            return default_limits(self.current["A"], self.gt_index)
        h, w = int(self.image.shape[-2]), int(self.image.shape[-1])
        return 0.0, float(w), 0.0, float(h)

    # ------------------------------------------------------------------ mouse
    @staticmethod
    def _pixel(event: dict) -> tuple[float, float]:
        x = event.get("dataX", event.get("relativeX", 0.0))
        y = event.get("dataY", event.get("relativeY", 0.0))
        return float(x), float(y)

    def handle_mouse(self, event: dict) -> None:
        """ipyevents' mousedown / mouseup / wheel on the figure (also called by the tests)."""
        if self.map is None:
            return
        kind = event.get("type")
        px, py = self._pixel(event)
        where = self.map.locate(px, py)
        if kind == "wheel":
            if where is not None:
                self._zoom(1.25 if float(event.get("deltaY", 0)) > 0 else 0.8, where[1:])
            return
        if kind == "mousedown":
            self._press = (px, py)
            return
        if kind != "mouseup" or self._press is None:
            return
        start, self._press = self.map.locate(*self._press), None
        if start is None or where is None:
            return
        moved = math.hypot(where[1] - start[1], where[2] - start[2])
        if self.mode.value == "draw a box" and start[0] == where[0] and moved > 2.0:
            h, w = int(self.image.shape[-2]), int(self.image.shape[-1])
            x1, x2 = sorted((min(max(start[1], 0.0), w), min(max(where[1], 0.0), w)))
            y1, y2 = sorted((min(max(start[2], 0.0), h), min(max(where[2], 0.0), h)))
            self.add_box([round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1)])
        elif self.mode.value == "pan" and moved > 0:
            dx, dy = start[1] - where[1], start[2] - where[2]
            x0, x1, y0, y1 = self._limits()
            self.limits = (x0 + dx, x1 + dx, y0 + dy, y1 + dy)
            self.refresh()
        else:
            self.pick(where)

    def handle_hover(self, event: dict) -> None:
        if self.map is None or self.mode.value != "pick a candidate":
            return
        where = self.map.locate(*self._pixel(event))
        if where is not None:
            hit = self._nearest(where)
            if hit is not None:
                self._show_row(*hit)

    def _nearest(self, where: tuple[int, float, float]) -> Optional[tuple[str, int]]:
        panel = ("A", "B")[where[0]] if where[0] < 2 else "A"
        frame = self._table_frame()
        if not len(frame):
            return None
        frame = frame[frame["panel"] == panel]
        if not len(frame):
            return None
        d = ((frame["x"] - where[1]) ** 2 + (frame["y"] - where[2]) ** 2) ** 0.5
        x0, x1, _, _ = self._limits()
        (bx0, _, bx1, _), _ = self.map.panels[min(where[0], len(self.map.panels) - 1)]
        px_per_unit = (bx1 - bx0) / max(x1 - x0, 1e-6)
        best = d.idxmin()
        if d[best] * px_per_unit > PICK_RADIUS_PX:
            return None
        return panel, int(frame.loc[best, "location"])

    def pick(self, where: tuple[int, float, float]) -> None:
        """Select the candidate nearest to a click (panel, x, y), if one is close enough."""
        hit = self._nearest(where)
        self.selected = hit
        self.refresh()

    def _show_row(self, panel: str, location: int) -> None:
        frame = self._table_frame()
        rows = frame[(frame["panel"] == panel) & (frame["location"] == location)]
        text = "<br>".join(html.escape(describe_row(panel, r)) for _, r in rows.iterrows())
        self.selected_row.value = f'<div class="scrpn-selected" style="font-size:13px">{text}</div>'

    # ------------------------------------------------------------------ computing and drawing
    def _inspection(self, name: str) -> Inspection:
        side = self.sides[name]
        chosen = resolve_setting(side["setting"].value, profile=self.profile, k=side["k"].value,
                                 sigma=side["sigma"].value, n=side["n"].value,
                                 region_rule=side["rule"].value)
        return inspect_sads(self.image, self.gts, chosen, side["boxes"].value, ignore=self.crowd,
                            profile=self.profile, results_dir=self.results_dir,
                            model_cache=self._cache, study=self.study)

    def _table_frame(self) -> Any:
        import pandas as pd

        frames = []
        for name, insp in self.current.items():
            frame = insp.table(self.gt_index, self.stage.value)
            frames.append(frame.assign(panel=name))
        if not frames:
            return pd.DataFrame()
        frame = pd.concat(frames, ignore_index=True)
        return frame[["panel"] + [c for c in frame.columns if c != "panel"]]

    def _update_table(self) -> None:
        frame = self._table_frame()
        if len(frame):
            frame = frame.sort_values(self.sort.value, ascending=self.ascending.value, kind="stable")
        self.table.value = _css_table(frame, self.selected) if len(frame) else "<p>no candidates</p>"

    def refresh(self) -> None:
        """Recompute both panels and redraw; a bad input leaves one line in the message."""
        if self._hold:
            return
        try:
            self._refresh()
        except InspectorError as exc:
            self._show_error(str(exc))
        except Exception as exc:  # noqa: BLE001 - the widget must never show a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self._show_error(f"unexpected {type(exc).__name__}: {first}")

    def _refresh(self) -> None:
        if self.image is None:
            raise InspectorError("no image loaded")
        for name in ("A", "B"):
            side = self.sides[name]
            kind = resolve_setting(side["setting"].value, profile=self.profile)
            side["k"].disabled = kind.stage2.type not in ("size_aware_threshold", "atss")
            side["n"].disabled = kind.stage2.type != "size_aware_threshold"
            side["sigma"].disabled = kind.stage1.type not in ("positive_region", "region")
            side["rule"].disabled = kind.stage1.type != "positive_region"
        if not len(self.gts):  # nothing to assign yet: the image alone, to draw on
            self.current = {}
            labels = [f"{n}: {self.sides[n]['setting'].value}" for n in ("A", "B")]
            png, self.map = render_comparison(plot_image_only(self.image, labels, self.limits))
            self.figure.value = png
            self._diff_line(0, 0, 0, -1, 0, 0, "no object yet: draw one on either panel or type "
                            "x1, y1, x2, y2 and press add box")
            self.message.value = ""
            self.error = None
            self.selected_row.value = ""
            self._update_table()
            return
        self.current = {name: self._inspection(name) for name in ("A", "B")}
        a, b = self.current["A"], self.current["B"]
        stage, gt = self.stage.value, self.gt_index
        cmp = compare(a, b, stage)
        selected = self.selected[1] if self.selected else None
        fig = plot_comparison(a, b, stage=stage, gt=gt, limits=self._limits(), selected=selected)
        png, self.map = render_comparison(fig)
        self.figure.value = png
        only_a, only_b, _both = cmp.counts(gt)
        pos_a, pos_b = (len(a.positives(stage, gt)), len(b.positives(stage, gt)))
        self._diff_line(only_a, only_b, len(self.gts), -1 if gt is None else gt, pos_a, pos_b,
                        f"{cmp.sentence(gt)} (A: {pos_a} positive(s), B: {pos_b})")
        note = getattr(self, "_note", "")
        self.error = None
        self.message.value = (f'<div class="scrpn-message" style="font-size:13px;color:#444">'
                              f"{html.escape(a.summary(stage))}<br>{html.escape(b.summary(stage))}"
                              f"{'<br>' + html.escape(note) if note else ''}</div>")
        if self.selected is not None:
            self._show_row(*self.selected)
        else:
            self.selected_row.value = ('<div class="scrpn-selected" style="font-size:13px;color:#666">'
                                       "click a candidate (mouse: pick a candidate) to see its row"
                                       "</div>")
        self._update_table()

    def _diff_line(self, only_a: int, only_b: int, objects: int, gt: int, pos_a: int, pos_b: int,
                   text: str) -> None:
        """The A / B line. Its data-* attributes are for scripts/browser_check.py: the counts it
        checks, and where panel A lies in the figure's own pixels (x0, y0, x1, y1 from the top
        left) and which part of the image it shows (x0, x1, y0, y1)."""
        colour = "#8a0a8a" if (only_a or only_b) else "#1b5e20"
        (x0, y0, x1, y1), _ = self.map.panels[0]
        panel = f"{x0:.1f},{self.map.height_px - y1:.1f},{x1:.1f},{self.map.height_px - y0:.1f}"
        limits = ",".join(f"{v:.2f}" for v in self._limits())
        self.diff.value = (f'<div class="scrpn-diff" data-only-a="{only_a}" data-only-b="{only_b}" '
                           f'data-gt="{gt}" data-pos-a="{pos_a}" data-pos-b="{pos_b}" '
                           f'data-objects="{objects}" data-figure="{self.map.width_px},{self.map.height_px}" '
                           f'data-panel-a="{panel}" data-limits="{limits}" '
                           f'style="font-size:14px;color:{colour}"><b>A vs B</b>: {html.escape(text)}</div>')

    TEXT = ("SADS inspector (image, objects, A / B settings, candidate table): run this cell in "
            "JupyterLab with ipywidgets and ipyevents to use it; a saved notebook keeps no live widget")

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget's view, with a text that says what it is and how to get it."""
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.TEXT
        return bundle
