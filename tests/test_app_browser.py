"""The app in real Chromium: start ``streamlit run app.py``, open the sample plan, click a grid,
download the GeoJSON and keep a screenshot in ``tests/artifacts/app.png``.

Chromium is Debian's package (``bash .ci/install-browser``; ``make test`` runs it first), driven
by Playwright's sync API; Playwright's own browser download is not used. The app runs in
intranet mode so the page needs nothing from the internet.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_S = 90
PLAN_MS = 180_000  # the first run plans the sample (tens of seconds on a busy machine)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)  # polling a starting server; bounded by STARTUP_S
    pytest.fail(f"streamlit did not answer within {STARTUP_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `bash .ci/install-browser` (as root) to install "
            "Debian's chromium for the browser test; `make test` does this first"
        )
    port = _free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {**os.environ, "GRIDPLAN_INTRANET": "1", "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(REPO / "app.py"),
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
                "--server.fileWatcherType",
                "none",
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


# Pick a residential grid whose own centre lies inside it (Leaflet's canvas hit test) and
# return it with that point in page pixels of the map's frame.
_FIND_GRID = """
() => {
  const map = window.map;
  const hits = [];
  map.eachLayer(l => {
    const p = l.feature && l.feature.properties;
    if (!p || !p.grid_code || p.microgrid_code || !l.getCenter) return;
    const c = l.getCenter();
    const pt = map.latLngToLayerPoint(c);
    if (l._containsPoint && l._containsPoint(pt)) {
      const cp = map.latLngToContainerPoint(c);
      hits.push({code: p.grid_code, x: cp.x, y: cp.y});
    }
  });
  const size = map.getSize();
  return hits.filter(h => h.x > 40 && h.y > 40 && h.x < size.x - 200 && h.y < size.y - 40);
}
"""


def test_sample_plan_in_chromium(app_url: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                accept_downloads=True, viewport={"width": 1500, "height": 1100}
            )
            page = context.new_page()
            page.goto(app_url, wait_until="domcontentloaded")
            page.get_by_text("网格详情").first.wait_for(timeout=PLAN_MS)

            iframe = page.locator('iframe[title="streamlit_folium.st_folium"]').first
            iframe.wait_for(timeout=60_000)
            frame = iframe.element_handle().content_frame()
            assert frame is not None
            frame.locator("#map_div .leaflet-overlay-pane canvas").first.wait_for(timeout=60_000)
            frame.locator(".leaflet-control-layers").first.wait_for(timeout=30_000)
            frame.wait_for_function(
                "() => window.map && Object.keys(window.map._layers).length > 5", timeout=30_000
            )

            before = page.get_by_text("网格详情 · ").first.inner_text().split("·")[-1].strip()
            candidates = frame.evaluate(f"({_FIND_GRID})()")
            assert candidates, "no grid polygon found on the map"
            pick = next(c for c in candidates if c["code"] != before)
            frame.locator("#map_div").click(position={"x": pick["x"], "y": pick["y"]})
            heading = page.get_by_text(f"网格详情 · {pick['code']}")
            expect(heading).to_be_visible(timeout=60_000)
            page.wait_for_timeout(1500)  # let the highlight layer draw before the screenshot
            page.screenshot(path=str(ARTIFACTS / "app.png"), full_page=False)

            page.get_by_role("tab", name="下载").click()
            button = page.get_by_role("button", name="GeoJSON 网格（RFC 7946）")
            button.wait_for(timeout=30_000)
            with page.expect_download(timeout=60_000) as info:
                button.click()
            download = info.value
            data = json.loads(Path(download.path()).read_text(encoding="utf-8"))
            assert data["type"] == "FeatureCollection"
            assert len(data["features"]) > 50
            codes = {f["properties"]["grid_code"] for f in data["features"]}
            assert pick["code"] in codes
            lon, lat = data["features"][0]["geometry"]["coordinates"][0][0][:2]
            assert 103.6 < lon < 104.1 and 1.2 < lat < 1.5  # Queenstown, WGS84 lon/lat
        finally:
            browser.close()


def _browser(pw):  # type: ignore[no-untyped-def]
    return pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def test_upload_widgets_speak_chinese(app_url: str) -> None:
    """Streamlit's own "Upload" button and "200MB per file" line are drawn in Chinese."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = _browser(pw)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1100})
            page.goto(app_url, wait_until="domcontentloaded")
            page.get_by_text("网格详情").first.wait_for(timeout=PLAN_MS)
            page.get_by_text("上传我的数据").click()
            zone = page.locator('[data-testid="stFileUploaderDropzone"]').first
            zone.wait_for(timeout=30_000)
            shown = zone.evaluate(
                """z => [...z.querySelectorAll(
                      'button p, [data-testid=stFileUploaderDropzoneInstructions] span')]
                   .map(e => ({size: getComputedStyle(e).fontSize,
                               after: getComputedStyle(e, '::after').content}))"""
            )
            assert len(shown) == 2, shown
            assert all(s["size"] == "0px" for s in shown), shown  # English text hidden
            assert "选择文件" in shown[0]["after"] and "200 MB" in shown[1]["after"], shown
            page.screenshot(path=str(ARTIFACTS / "upload_zh.png"))
        finally:
            browser.close()
