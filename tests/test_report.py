"""The report page: what it shows, built from a run's files; and that a browser draws it."""

import base64
import csv
import io
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from kgan.images import make_grid, save_png
from kgan.plots import line_chart, nice_ticks
from kgan.report_page import spread, write_report

HISTORY = [
    {"epoch": 1, "d_loss": 1.4, "g_loss": 0.7, "d_real_acc": 0.6, "d_fake_acc": 0.5, "fcd": ""},
    {"epoch": 2, "d_loss": 1.3, "g_loss": 0.8, "d_real_acc": 0.7, "d_fake_acc": 0.6, "fcd": 40.0},
    {"epoch": 3, "d_loss": 1.2, "g_loss": 0.9, "d_real_acc": 0.8, "d_fake_acc": 0.7, "fcd": ""},
    {"epoch": 4, "d_loss": 1.1, "g_loss": "nan", "d_real_acc": 0.9, "d_fake_acc": 0.8, "fcd": 25.0},
]


def _fake_run(folder, epochs=4, health=True):
    """A run folder as kgan writes it: grids, history.csv, health.jsonl, config.json."""
    rng = np.random.default_rng(0)
    for epoch in range(1, epochs + 1):
        images = rng.integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
        save_png(make_grid(images), str(folder / "samples" / f"epoch_{epoch:03d}.png"))
    with open(folder / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, [*HISTORY[0], "health"])
        writer.writeheader()
        for row in HISTORY[:epochs]:
            writer.writerow({**row, "health": "ok" if row["epoch"] != 3 else "unstable"})
    if health:
        finding = {
            "epoch": 3,
            "step": 12,
            "failure": "unstable",
            "evidence": "d_loss <script>alert(1)</script> swings",
            "suggestion": "lower --d_lr",
        }
        (folder / "health.jsonl").write_text(json.dumps(finding) + "\nnot json\n")
    (folder / "config.json").write_text(json.dumps({"epochs": 20, "dataset": "mnist", "ema": 0.0}))
    return folder


def _data_images(page):
    """`[(mime, bytes), ...]` of every inline image of the page."""
    found = re.findall(r'src="data:(image/\w+);base64,([^"]+)"', page)
    return [(mime, base64.b64decode(data)) for mime, data in found]


def test_page_shows_grids_gif_curves_health_and_config(tmp_path):
    run = _fake_run(tmp_path)
    path = write_report(str(run))
    assert path == str(run / "report.html")
    page = (run / "report.html").read_text()
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script" not in page

    images = _data_images(page)
    pngs = [data for mime, data in images if mime == "image/png"]
    gifs = [data for mime, data in images if mime == "image/gif"]
    assert len(pngs) == 1 + 4  # the latest, large, and every epoch in the strip
    assert all(Image.open(io.BytesIO(png)).size == (62, 62) for png in pngs)
    grids = [(run / "samples" / f"epoch_{e:03d}.png").read_bytes() for e in range(1, 5)]
    assert pngs == [grids[-1], *grids]  # the run's own grids, in epoch order
    gif = Image.open(io.BytesIO(gifs[0]))
    assert gif.n_frames == 4
    assert (run / "progress.gif").read_bytes() == gifs[0]

    charts = re.findall(r'<svg class="chart".*?</svg>', page, flags=re.S)
    titles = [re.search(r'aria-label="([^"]+)"', c).group(1) for c in charts]
    assert titles == ["Losses", "Discriminator accuracy", "FCD (lower is better)"]
    losses = charts[0]
    # g_loss is NaN in epoch 4: 3 dots, one line; d_loss: 4 dots.
    assert losses.count("<circle") == 7
    fcd = charts[2]
    assert fcd.count("<circle") == 2 and "<polyline" not in fcd  # epochs 2 and 4, a gap between

    assert "d_loss &lt;script&gt;alert(1)&lt;/script&gt; swings" in page
    assert "1 line(s) of health.jsonl could not be read" in page
    assert page.count('class="badge bad"') == 1 and page.count('class="badge ok"') == 3
    assert "<code>ema</code>" in page and "moving average" in page  # the field's reason
    assert "epoch 4 of 20" in page


def test_an_empty_run_folder_still_gives_a_page(tmp_path):
    write_report(str(tmp_path))
    page = (tmp_path / "report.html").read_text()
    assert "No sample grids yet" in page and "No history yet" in page
    assert "No <code>health.jsonl</code>" in page
    assert not (tmp_path / "progress.gif").exists()


def test_long_runs_keep_the_page_small(tmp_path):
    assert spread(list(range(100)), 5) == [0, 25, 50, 74, 99]
    assert spread([1, 2], 5) == [1, 2]
    run = _fake_run(tmp_path, epochs=2)
    for epoch in range(3, 61):
        shutil.copy(run / "samples" / "epoch_001.png", run / "samples" / f"epoch_{epoch:03d}.png")
    write_report(str(run))
    page = (run / "report.html").read_text()
    pngs = [d for mime, d in _data_images(page) if mime == "image/png"]
    assert len(pngs) == 1 + 24
    assert Image.open(run / "progress.gif").n_frames <= 50


def test_nice_ticks_are_round_and_cover_the_range():
    assert nice_ticks(0.13, 0.92) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(1, 20) == [0, 5, 10, 15, 20]
    ticks = nice_ticks(3.0, 3.0)
    assert ticks[0] < 3.0 < ticks[-1]


def test_a_chart_without_data_says_so():
    assert "no data yet" in line_chart("empty", {"x": [(1, None)]})
    single = line_chart("one", {"x": [(1, 0.5)]})
    assert single.count("<circle") == 1 and "<polyline" not in single


# === In a real browser ===

_CHECK = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  const charts = [...document.querySelectorAll("svg.chart")];
  const drawn = charts.filter((svg) => {
    const lines = [...svg.querySelectorAll(".series polyline")];
    return lines.length > 0 && lines.every((line) => line.getBBox().width > 0);
  });
  const result = {
    images: images.length,
    decoded: images.filter((i) => i.complete && i.naturalWidth > 0).length,
    charts: charts.length,
    drawn: drawn.length,
  };
  const out = document.createElement("pre");
  out.id = "browser-check";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script></body>"""


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium on PATH: install it (Debian: apt-get install chromium) to run this")


def _run_chromium(binary, profile, *args):
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,2200",
    ]
    result = subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.browser
@pytest.mark.slow
def test_report_of_a_tiny_run_renders_in_chromium(idx_folder, tmp_path):
    from kgan.training import train
    from tests.conftest import tiny_config

    binary = _chromium()
    out_dir = tmp_path / "run"
    train(tiny_config(dataset=idx_folder, out_dir=str(out_dir), epochs=2), verbose=0)
    page = (out_dir / "report.html").read_text()
    assert "epoch 2 of 2" in page

    # The DOM after the page's load event: every image decoded, every chart drawn.
    checked = tmp_path / "checked.html"
    checked.write_text(page.replace("</body>", _CHECK))
    dom = _run_chromium(binary, tmp_path / "profile1", "--dump-dom", checked.as_uri())
    result = json.loads(re.search(r'<pre id="browser-check">(.*?)</pre>', dom).group(1))
    # The latest grid, the GIF and one grid per epoch; five training-curve
    # charts (losses, accuracies, gradient norms, label noise, augmentation).
    assert result == {"images": 4, "decoded": 4, "charts": 5, "drawn": 5}

    # The pixels: the grid's black frame and the first series' blue line are on screen.
    shot = tmp_path / "shot.png"
    _run_chromium(
        binary, tmp_path / "profile2", f"--screenshot={shot}", f"{out_dir.as_uri()}/report.html"
    )
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    blue = np.all(np.abs(pixels - [0x00, 0x72, 0xB2]) < 8, axis=1).sum()
    black = np.all(pixels < 8, axis=1).sum()
    assert blue > 200, f"{blue} pixels of the first curve's colour"
    assert black > 1000, f"{black} black pixels of the sample grids"
