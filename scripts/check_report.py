"""Open a ``skyield benchmark`` report in headless Chromium and check that its plots render.

Usage::

    python scripts/check_report.py skyield-output/benchmark-<time>/report.html \
        [--screenshot report.png] [--browser /usr/bin/chromium]

The report is copied to a temporary folder with a small script appended that, once the
page has loaded, lists every image with its decoded size; Chromium prints the resulting
DOM (``--dump-dom``). The check passes when the page has at least one image and every
image decoded to a non-empty bitmap. The report itself is never modified.
Needs Chromium (Debian: ``apt-get install chromium``). Exit status 0: all plots render;
1: some do not; 2: no browser or no report.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
_PROBE = """<script>window.addEventListener("load", function () {
  var found = Array.from(document.images).map(function (image) {
    return {alt: image.alt, complete: image.complete, width: image.naturalWidth,
            height: image.naturalHeight};
  });
  var out = document.createElement("pre");
  out.id = "skyield-report-check";
  out.textContent = JSON.stringify(found);
  document.body.appendChild(out);
});</script>"""
_RESULT = re.compile(r'<pre id="skyield-report-check">(.*?)</pre>', re.S)
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
          "--virtual-time-budget=10000"]


def find_browser(explicit=None):
    """Path of a Chromium-family browser, or None."""
    if explicit:
        return explicit if shutil.which(explicit) else None
    return next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)


def rendered_images(report, browser, timeout=120):
    """Every image of ``report`` as Chromium decoded it: dicts of alt, complete, size."""
    html = Path(report).read_text(encoding="utf-8")
    if "</body>" not in html:
        raise ValueError(f"{report} has no </body>: not a skyield report")
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "report.html"
        probe.write_text(html.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
        done = subprocess.run([browser, *_FLAGS, "--dump-dom", probe.as_uri()],
                              capture_output=True, text=True, timeout=timeout, check=False)
    match = _RESULT.search(done.stdout)
    if match is None:
        raise RuntimeError(f"{browser} returned no result (exit {done.returncode}): "
                           f"{done.stderr.strip()[-500:]}")
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def screenshot(report, browser, path, width=1100, height=6000, timeout=120):
    """Save a PNG of the report's page as Chromium draws it."""
    subprocess.run([browser, *_FLAGS, f"--window-size={width},{height}",
                    f"--screenshot={Path(path).resolve()}", Path(report).resolve().as_uri()],
                   capture_output=True, timeout=timeout, check=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", help="the report.html of a benchmark run")
    parser.add_argument("--screenshot", help="also save a PNG of the page here")
    parser.add_argument("--browser", help="browser executable (default: the first of "
                                          + ", ".join(BROWSERS) + " found)")
    args = parser.parse_args(argv)
    browser = find_browser(args.browser)
    if browser is None:
        print("no Chromium found; install it (Debian: apt-get install chromium)",
              file=sys.stderr)
        return 2
    if not Path(args.report).is_file():
        print(f"no report at {args.report}", file=sys.stderr)
        return 2
    images = rendered_images(args.report, browser)
    broken = [image["alt"] for image in images
              if not (image["complete"] and image["width"] > 0 and image["height"] > 0)]
    for image in images:
        print(f"{image['width']:>5} x {image['height']:<5} {image['alt']}")
    if args.screenshot:
        screenshot(args.report, browser, args.screenshot)
        print(f"screenshot: {args.screenshot}")
    if not images or broken:
        print(f"FAILED: {len(images)} images, not rendered: {broken}", file=sys.stderr)
        return 1
    print(f"ok: all {len(images)} plots render in {Path(browser).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
