"""Drive the SADS inspector (notebook 10) in JupyterLab in a real headless Chromium, as a user does.

papermill executes notebook 10 but never renders its widget; this check does what a reader does:

1. writes ``notebooks/10_sads_inspector.py`` as a notebook to ``work_dirs/browser_check/``
   (git-ignored; the committed notebook is never opened, so JupyterLab's autosave cannot touch it) with
   ``train_missing = False``: it runs on the cached study only (the committed weights of
   ``sc_rpn`` seed 0) and trains nothing;
2. starts JupyterLab from the project's venv on 127.0.0.1 with a random token, and opens the copy
   in Chromium (Selenium, Debian's ``chromium`` + ``chromium-driver``), a 1280-px wide window;
3. runs every cell (Shift+Enter from the first, once the kernel is idle), waits for the inspector:
   its figure and its A / B line present, no "Error displaying widget". Where code cells are left
   unexecuted while the kernel idles (a keystroke dropped on a loaded machine), Shift+Enter goes
   again from the first of them, at most three times, and the result counts it
   (``run_all_restarts``); a timeout names every code cell's prompt and the kernel's status;
4. **draws a box** with the mouse on panel A (press, drag, release on the figure) and waits until
   the inspector lists one more object, selected, with its positives in the A / B line;
5. **types a box** (``x1, y1, x2, y2`` and "add box") and waits for the same; the positives shown
   must change (the A / B line names the new object and its counts);
6. **switches B to Max-IoU** (B's setting list) and waits until the A / B line counts positives
   that only one panel has (the magenta squares: the difference highlighted);
7. **clicks a candidate** (the typed box's centre, a location of its level) and waits for its row;
8. **opens the candidate table** and waits for its rows;
9. saves a screenshot after each step under ``--out`` (default ``results/figures``:
   ``sads_inspector_browser_{before,drawn,typed,maxiou,picked,table}.png``), fails on any error in
   the browser console (level SEVERE) and on any "cannot inspect" line in the widget;
10. puts ``results/figures`` back as it was (the notebook saves its example figure there).

The widget's A / B line carries its numbers as ``data-*`` attributes (object count, selected
object, positives of A and B, positives only in A / B, where panel A lies in the figure and which
part of the image it shows), so every wait reads numbers, not pixels. An element the widgets
re-render while it is read counts as "not yet" (``fresh``).

Exit status 0 when every assertion holds; otherwise one line naming what failed. Called by
``scripts/browser_check.sh`` and ``tests/test_browser_check.py``. Usage:
``.venv/bin/python scripts/browser_check.py [--out DIR] [--timeout S]``.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "10_sads_inspector.py"
WORK = ROOT / "work_dirs" / "browser_check"
SHOTS = ("before", "drawn", "typed", "maxiou", "picked", "table")
# a 24 x 60 px box whose centre (104, 96) is a location of its level (P3, stride 8: eq. 1 puts
# its area 1440 there), so clicking the centre picks a candidate
TYPED_BOX = (92, 66, 116, 126)
B_SETTING = "Max-IoU, both stages"


class CheckFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_notebook() -> Path:
    """The copy JupyterLab opens, from the ``.py`` source: the parameters cell set to cached runs
    only (``train_missing = False``, seed 0)."""
    import jupytext
    import nbformat

    nb = jupytext.read(NOTEBOOK)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        raise CheckFailed(f"{NOTEBOOK}: expected one parameters cell, found {len(params)}")
    if "train_missing = True" not in params[0].source:
        raise CheckFailed(f"{NOTEBOOK}: the parameters cell has no `train_missing = True` to switch off")
    params[0].source = params[0].source.replace("train_missing = True", "train_missing = False") \
        .replace("seeds = [0, 1, 2]", "seeds = [0]")
    nb.metadata.pop("jupytext", None)
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{NOTEBOOK.stem}.ipynb"
    nbformat.write(nb, path)
    return path


def start_lab(port: int, token: str, log_path: Path) -> subprocess.Popen:
    jupyter = Path(sys.executable).with_name("jupyter")
    cmd = [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}",
           "--ServerApp.allow_root=True", "--LabApp.news_url=", "--ServerApp.disable_check_xsrf=False"]
    settings = WORK / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)  # no "get notified about Jupyter news?" toast
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(WORK / "jupyter_config"),
               JUPYTERLAB_WORKSPACES_DIR=str(WORK / "workspaces"),
               JUPYTERLAB_SETTINGS_DIR=str(WORK / "settings"))
    log = open(log_path, "w")
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for_lab(port: int, token: str, proc: subprocess.Popen, timeout: float) -> float:
    start = time.perf_counter()
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    while time.perf_counter() - start < timeout:
        if proc.poll() is not None:
            raise CheckFailed(f"JupyterLab exited with status {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            time.sleep(0.3)
    raise CheckFailed(f"JupyterLab not ready on port {port} after {timeout:.0f} s")


def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        raise CheckFailed("chromium and chromium-driver are not installed "
                          "(`apt-get install -y chromium chromium-driver`)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1400"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_path), options=options)


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else {}


def restore(folder: Path, saved: dict[Path, bytes], keep: set[Path]) -> None:
    """Put ``folder`` back as it was: running the notebook saves its example figure there."""
    for path in list(folder.rglob("*")) if folder.is_dir() else []:
        if path.is_file() and path not in saved and path not in keep:
            path.unlink()
    for path, data in saved.items():
        if path not in keep and (not path.is_file() or path.read_bytes() != data):
            path.write_bytes(data)


IDLE_BEFORE_RESTART_S = 15.0
MAX_RESTARTS = 3


def shift_enter_from(driver, cell, count: int) -> None:
    """Select ``cell`` (its prompt, command mode) and press Shift+Enter ``count`` times."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", cell)
    cell.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").click()
    actions = ActionChains(driver).send_keys(Keys.ESCAPE)
    for _ in range(count):
        actions = actions.key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).pause(0.2)
    actions.perform()


def unexecuted_code_cells(driver) -> list:
    """Code cells whose prompt is still empty (``[ ]:``): never run, and not queued (``[*]:``)."""
    from selenium.webdriver.common.by import By

    cells = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell")
    return [c for c in cells
            if c.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text.strip() in ("[ ]:", "")]


def kernel_idle(driver) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_elements(By.XPATH, "//*[contains(text(), '| Idle')]"))


def notebook_state(driver) -> str:
    """One line for a failure message: the code cells' prompts and the kernel's status."""
    from selenium.webdriver.common.by import By

    try:
        prompts = [c.find_element(By.CSS_SELECTOR, ".jp-InputPrompt").text.strip() or "[ ]:"
                   for c in driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell")]
        status = [e.text for e in driver.find_elements(By.XPATH, "//*[contains(text(), ' | ')]")][:1]
        return f"code-cell prompts {' '.join(prompts)}; kernel status {status or 'not shown'}"
    except Exception as exc:  # the state is a diagnostic: never mask the original failure
        return f"notebook state unreadable ({type(exc).__name__})"


STALE_RETRIES = 5


def fresh(driver, read):
    """``read(driver)``, again (up to ``STALE_RETRIES`` times) when an element it found went stale
    in between: the widgets re-render their DOM while they update."""
    from selenium.common.exceptions import StaleElementReferenceException

    for attempt in range(STALE_RETRIES):
        try:
            return read(driver)
        except StaleElementReferenceException:
            if attempt == STALE_RETRIES - 1:
                raise
            time.sleep(0.5)


def diff_state(driver) -> dict:
    """The inspector's A / B line as numbers (its ``data-*`` attributes) and text, found afresh."""
    from selenium.webdriver.common.by import By

    element = driver.find_element(By.CSS_SELECTOR, ".scrpn-diff")
    state = {key: element.get_attribute(f"data-{key}") for key in
             ("only-a", "only-b", "gt", "pos-a", "pos-b", "objects", "figure", "panel-a", "limits")}
    for key in ("only-a", "only-b", "gt", "pos-a", "pos-b", "objects"):
        state[key] = int(state[key])
    state["text"] = element.text
    return state


def widget_error(driver) -> str | None:
    """The widget's one-line error, if it shows one."""
    from selenium.webdriver.common.by import By

    for element in driver.find_elements(By.CSS_SELECTOR, ".scrpn-message"):
        if "cannot inspect" in element.text:
            return element.text
    return None


def figure(driver):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, ".scrpn-sads-inspector img")


def screen_offset(driver, state: dict, x: float, y: float) -> tuple[float, float]:
    """Offset from the figure element's centre (Selenium's origin) of image point (x, y) in panel A."""
    img = figure(driver)
    width, height = (float(v) for v in state["figure"].split(","))
    px0, py0, px1, py1 = (float(v) for v in state["panel-a"].split(","))
    lx0, lx1, ly0, ly1 = (float(v) for v in state["limits"].split(","))
    fx = px0 + (x - lx0) / (lx1 - lx0) * (px1 - px0)   # figure pixels, from the top left
    fy = py0 + (y - ly0) / (ly1 - ly0) * (py1 - py0)
    shown = img.size
    scale_x, scale_y = shown["width"] / width, shown["height"] / height
    return fx * scale_x - shown["width"] / 2, fy * scale_y - shown["height"] / 2


def labelled(driver, css: str, label: str):
    """The ``css`` element inside the inspector's widget whose label reads ``label``."""
    from selenium.webdriver.common.by import By

    for box in driver.find_elements(By.CSS_SELECTOR, ".scrpn-sads-inspector .widget-inline-hbox"):
        labels = box.find_elements(By.CSS_SELECTOR, ".widget-label")
        if labels and labels[0].text.strip() == label:
            found = box.find_elements(By.CSS_SELECTOR, css)
            if found:
                return found[0]
    raise CheckFailed(f"no {css} labelled {label!r} in the inspector")


def button(driver, text: str):
    from selenium.webdriver.common.by import By

    for b in driver.find_elements(By.CSS_SELECTOR, ".scrpn-sads-inspector button"):
        if b.text.strip() == text:
            return b
    raise CheckFailed(f"no button {text!r} in the inspector")


def run_check(out: Path, timeout: float) -> dict:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    notebook = prepare_notebook()
    figures = ROOT / "results" / "figures"
    saved = snapshot(figures)
    shots = {out.resolve() / f"sads_inspector_browser_{w}.png" for w in SHOTS + ("failure",)}
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(port, token, WORK / "jupyterlab.log")
    driver = None
    timings: dict = {}
    step = "starting JupyterLab"

    def shoot(name: str) -> None:
        time.sleep(0.5)
        out.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out / f"sads_inspector_browser_{name}.png"))

    try:
        timings["lab_ready_s"] = round(wait_for_lab(port, token, lab, 60), 1)
        step = "starting Chromium"
        driver = make_driver()
        # a stale element inside a wait is "not yet": the next poll finds the elements afresh
        wait = WebDriverWait(driver, timeout, poll_frequency=0.5,
                             ignored_exceptions=(StaleElementReferenceException,))
        start = time.perf_counter()
        step = "opening the notebook"
        rel = notebook.relative_to(ROOT).as_posix()
        driver.get(f"http://127.0.0.1:{port}/lab/tree/{rel}?token={token}&reset")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"))
        step = "closing the file browser (the notebook gets the window's width)"
        tabs = driver.find_elements(By.CSS_SELECTOR, ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
        if tabs:
            tabs[0].click()
        step = "waiting for the kernel"
        wait.until(lambda d: d.find_elements(By.XPATH, "//*[contains(text(), '| Idle')]"))
        step = "running every cell (Shift+Enter from the first)"
        cells = driver.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
        shift_enter_from(driver, cells[0], len(cells))
        # A keystroke a loaded machine drops leaves cells unexecuted and the inspector never
        # appears (a CI run failed so). A reader would run them again: once the kernel has been
        # idle for a while and code cells still show an empty prompt, Shift+Enter goes again from
        # the first of them. The result counts these restarts.
        restarts = {"n": 0, "idle_since": None}

        def inspector(d):
            if "Error displaying widget" in d.page_source:
                raise CheckFailed("JupyterLab shows 'Error displaying widget'")
            ready = (d.find_elements(By.CSS_SELECTOR, ".scrpn-sads-inspector img")
                     and d.find_elements(By.CSS_SELECTOR, ".scrpn-diff"))
            if ready:
                return True
            pending = unexecuted_code_cells(d)
            if not (pending and kernel_idle(d)):
                restarts["idle_since"] = None
                return False
            now = time.perf_counter()
            if restarts["idle_since"] is None:
                restarts["idle_since"] = now
            elif now - restarts["idle_since"] > IDLE_BEFORE_RESTART_S and restarts["n"] < MAX_RESTARTS:
                restarts["n"] += 1
                restarts["idle_since"] = None
                restarts.setdefault("states", []).append(notebook_state(d))
                every = d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell")
                shift_enter_from(d, pending[0], len(every) - every.index(pending[0]))
            return False

        step = "waiting for the inspector's figure and its A / B line"
        try:
            wait.until(inspector)
        except Exception as exc:
            raise CheckFailed(f"{type(exc).__name__} after {timeout:.0f} s; {notebook_state(driver)}") from exc
        timings["run_all_restarts"] = restarts["n"]
        if restarts.get("states"):
            timings["states_at_restart"] = restarts["states"]
        timings["run_all_s"] = round(time.perf_counter() - start, 1)
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});",
                              driver.find_element(By.CSS_SELECTOR, ".scrpn-sads-inspector"))
        first = fresh(driver, diff_state)
        shoot("before")
        result: dict = {"opened": {k: first[k] for k in ("objects", "gt", "pos-a", "pos-b")}}

        def changed_from(before: dict, **expect):
            def check(d):
                error = widget_error(d)
                if error:
                    raise CheckFailed(f"the widget says: {error}")
                now = diff_state(d)
                return now if now["text"] != before["text"] and all(
                    now[k] == v for k, v in expect.items()) else False
            return check

        step = "drawing a box on panel A with the mouse"
        x0, x1, y0, y1 = (float(v) for v in first["limits"].split(","))
        ax, ay = fresh(driver, lambda d: screen_offset(d, first, x0 + 0.42 * (x1 - x0), y0 + 0.30 * (y1 - y0)))
        bx, by = fresh(driver, lambda d: screen_offset(d, first, x0 + 0.58 * (x1 - x0), y0 + 0.70 * (y1 - y0)))
        img = figure(driver)
        ActionChains(driver).move_to_element_with_offset(img, int(ax), int(ay)).click_and_hold() \
            .pause(0.2).move_to_element_with_offset(img, int((ax + bx) / 2), int((ay + by) / 2)) \
            .pause(0.2).move_to_element_with_offset(img, int(bx), int(by)).pause(0.2).release().perform()
        drawn = wait.until(changed_from(first, objects=first["objects"] + 1, gt=first["objects"]))
        shoot("drawn")
        result["drawn"] = {k: drawn[k] for k in ("objects", "gt", "pos-a", "pos-b")}

        step = "typing a box"
        typed_input = labelled(driver, "input", "box")
        typed_input.click()
        typed_input.send_keys(Keys.CONTROL, "a")
        typed_input.send_keys(", ".join(str(v) for v in TYPED_BOX))
        button(driver, "add box").click()
        typed = wait.until(changed_from(drawn, objects=drawn["objects"] + 1, gt=drawn["objects"]))
        if typed["pos-a"] < 1:
            raise CheckFailed(f"the typed box {TYPED_BOX} got no positive in A: {typed['text']!r}")
        shoot("typed")
        result["typed"] = {k: typed[k] for k in ("objects", "gt", "pos-a", "pos-b")}

        step = f"switching B to {B_SETTING}"
        Select(labelled(driver, "select", "B")).select_by_visible_text(B_SETTING)

        def highlighted(d):
            now = changed_from(typed, gt=typed["gt"])(d)
            return now if now and (now["only-a"] + now["only-b"]) > 0 else False

        maxiou = wait.until(highlighted)
        shoot("maxiou")
        result["b_maxiou"] = {k: maxiou[k] for k in ("pos-a", "pos-b", "only-a", "only-b")}

        step = "clicking a candidate (the typed box's centre)"
        cx, cy = (TYPED_BOX[0] + TYPED_BOX[2]) / 2, (TYPED_BOX[1] + TYPED_BOX[3]) / 2
        ox, oy = fresh(driver, lambda d: screen_offset(d, maxiou, cx, cy))
        ActionChains(driver).move_to_element_with_offset(figure(driver), int(ox), int(oy)).click().perform()
        row = wait.until(lambda d: next((e.text for e in d.find_elements(By.CSS_SELECTOR, ".scrpn-selected")
                                         if "location" in e.text and "IoU" in e.text), False))
        shoot("picked")
        result["picked_row"] = row.splitlines()[0][:200]

        step = "opening the candidate table"
        title = driver.find_element(By.XPATH, "//*[contains(@class, 'scrpn-sads-inspector')]"
                                              "//*[contains(text(), 'candidate table (A and B')]")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", title)
        title.click()
        rows = wait.until(lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, ".scrpn-table tbody tr")
                                     if r.is_displayed()] or False)
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});",
                              driver.find_element(By.CSS_SELECTOR, ".scrpn-table"))
        shoot("table")
        result["table_rows"] = len(rows)

        step = "reading the console"
        errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        if errors:
            raise CheckFailed(f"{len(errors)} console error(s), first: {errors[0].get('message')}")
        return {**result, **timings,
                "screenshots": [str(out / f"sads_inspector_browser_{w}.png") for w in SHOTS]}
    except Exception as exc:
        if driver is not None:
            out.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(out / "sads_inspector_browser_failure.png"))
        raise CheckFailed(f"{step}: {type(exc).__name__}: {str(exc).strip()[:300]}") from exc
    finally:
        if driver is not None:
            driver.quit()
        restore(figures, saved, keep={p for p in shots if p.parent == figures.resolve()})
        lab.terminate()
        try:
            lab.wait(10)
        except subprocess.TimeoutExpired:
            lab.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "figures",
                        help="folder for the screenshots (default results/figures)")
    parser.add_argument("--timeout", type=float, default=360.0,
                        help="seconds to wait for each step in the browser")
    args = parser.parse_args(argv)
    try:
        result = run_check(args.out, args.timeout)
    except CheckFailed as exc:
        print(f"browser check FAILED: {exc} (JupyterLab log: {WORK / 'jupyterlab.log'})")
        return 1
    except Exception as exc:  # selenium's timeouts and driver errors, reported in one line
        print(f"browser check FAILED: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
              f" (JupyterLab log: {WORK / 'jupyterlab.log'})")
        return 1
    print("browser check passed:", json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
