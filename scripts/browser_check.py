"""Drive the SADS inspector (notebook 10) in JupyterLab in a real headless Chromium.

papermill executes notebook 10 but never renders its widget; this check does what a reader does:

1. writes ``notebooks/10_sads_inspector.py`` as a notebook to ``work_dirs/browser_check/``
   (git-ignored; the committed notebook is never opened, so JupyterLab's autosave cannot touch it) with
   ``train_missing = False``: it runs on the cached study only (the committed weights of
   ``sc_rpn`` seed 0) and trains nothing;
2. starts JupyterLab from the project's venv on 127.0.0.1 with a random token, and opens the copy
   in Chromium (Selenium, Debian's ``chromium`` + ``chromium-driver``);
3. runs every cell (Shift+Enter from the first, once the kernel is idle), waits for the inspector: its sliders present, no "Error
   displaying widget", a figure in its output. Where code cells are left unexecuted while the
   kernel idles (a keystroke dropped on a loaded machine), Shift+Enter goes again from the first
   of them, at most three times, and the result counts it (``run_all_restarts``); a timeout names
   every code cell's prompt and the kernel's status;
4. sets k from its default to 3 in the slider's readout and waits until the figure is redrawn
   (the image's bytes change). The output widget replaces its ``<img>`` while it redraws, so an
   element read a moment earlier can go stale: every read here finds the element afresh and a
   stale one counts as "not yet" (a CI run failed on a StaleElementReferenceException so);
5. saves a screenshot before and after under ``--out`` (default ``results/figures``) and fails on
   any error in the browser console (level SEVERE);
6. puts ``results/figures`` back as it was (the notebook saves its example figure there).

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
K_TARGET = 3


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
                "--window-size=1500,1300"):
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


def k_readout(driver):
    """The readout of the inspector's k slider, found afresh."""
    from selenium.webdriver.common.by import By

    labels = {}
    for slider in driver.find_elements(By.CSS_SELECTOR, ".widget-hslider"):
        labels[slider.find_element(By.CSS_SELECTOR, ".widget-label").text.strip()] = slider
    k_slider = next((s for label, s in labels.items() if label.startswith("k")), None)
    if k_slider is None:
        raise CheckFailed(f"no k slider among the inspector's sliders {sorted(labels)}")
    return k_slider.find_element(By.CSS_SELECTOR, ".widget-readout")


def last_image_src(driver, scroll: bool = False) -> str | None:
    """The ``src`` of the inspector's figure (the last image in a widget output), or None."""
    from selenium.webdriver.common.by import By

    images = driver.find_elements(By.CSS_SELECTOR, ".widget-output img")
    if not images:
        return None
    if scroll:
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", images[-1])
    return images[-1].get_attribute("src")


def type_k(driver) -> None:
    """Type ``K_TARGET`` into the k readout and press Enter."""
    from selenium.webdriver.common.keys import Keys

    readout = k_readout(driver)
    readout.click()
    readout.send_keys(Keys.CONTROL, "a")
    readout.send_keys(str(K_TARGET), Keys.ENTER)


def run_check(out: Path, timeout: float) -> dict:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    notebook = prepare_notebook()
    figures = ROOT / "results" / "figures"
    saved = snapshot(figures)
    shots = {out.resolve() / f"sads_inspector_browser_{w}.png" for w in ("before", "after", "failure")}
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(port, token, WORK / "jupyterlab.log")
    driver = None
    timings = {}
    step = "starting JupyterLab"
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
            sliders = d.find_elements(By.CSS_SELECTOR, ".widget-hslider")
            images = d.find_elements(By.CSS_SELECTOR, ".widget-output img")
            if len(sliders) >= 3 and images:
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

        step = "waiting for the inspector's sliders and figure"
        try:
            wait.until(inspector)
        except Exception as exc:
            raise CheckFailed(f"{type(exc).__name__} after {timeout:.0f} s; {notebook_state(driver)}") from exc
        timings["run_all_restarts"] = restarts["n"]
        if restarts.get("states"):
            timings["states_at_restart"] = restarts["states"]
        timings["run_all_s"] = round(time.perf_counter() - start, 1)
        k_before = fresh(driver, lambda d: k_readout(d).text.strip())
        before = fresh(driver, lambda d: last_image_src(d, scroll=True))
        out.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out / "sads_inspector_browser_before.png"))
        step = f"setting k to {K_TARGET} and waiting for the redraw"
        start = time.perf_counter()
        fresh(driver, type_k)

        def redrawn(d):
            src = last_image_src(d)
            return src is not None and src != before

        wait.until(redrawn)
        timings["redraw_s"] = round(time.perf_counter() - start, 1)
        k_after = fresh(driver, lambda d: k_readout(d).text.strip())
        if k_after != str(K_TARGET):
            raise CheckFailed(f"the k readout shows {k_after!r} after setting it to {K_TARGET}")
        time.sleep(0.5)
        driver.save_screenshot(str(out / "sads_inspector_browser_after.png"))
        errors = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        if errors:
            raise CheckFailed(f"{len(errors)} console error(s), first: {errors[0].get('message')}")
        step = "reading the console"
        return {"k_before": k_before, "k_after": k_after, **timings,
                "screenshots": [str(out / f"sads_inspector_browser_{w}.png") for w in ("before", "after")]}
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
                        help="folder for the two screenshots (default results/figures)")
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
