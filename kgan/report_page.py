"""The run's report page: one self-contained HTML file built from a run's folder.

`write_report(out_dir)` reads what a run has written so far and renders
`out_dir/report.html`:

- the sample grids over time (`samples/epoch_NNN.png`) and an animated GIF of
  them (also saved as `progress.gif`);
- curves of losses, accuracies, gradient norms, label noise and the quality
  metrics (`fcd`, `kid`, ...) when evaluated, from `history.csv`;
- the health monitor's findings, from `health.jsonl`;
- the config, from `config.json`, with each field's reason.

Everything is inline (base64 images, SVG charts, CSS): the page opens from
disk, offline, and can be mailed as one file. It needs no TensorFlow, so it
can also be rebuilt after a run: `python -c "import kgan.report_page as r;
r.write_report('runs/kgan')"`.
"""

import base64
import csv
import datetime
import html
import json
import math
import os
import re

import numpy as np

from kgan.files import atomic_write
from kgan.plots import line_chart

# Curves of the training step, by chart; columns absent from history.csv are left out.
TRAINING_CHARTS = (
    ("Losses", ("d_loss", "g_loss"), None),
    ("Discriminator accuracy", ("d_real_acc", "d_fake_acc"), (0.0, 1.0)),
    ("Gradient norms", ("d_grad_norm", "g_grad_norm"), None),
    (
        "Label noise, and the balance controller's handicap h (--balance=auto)",
        ("label_flip", "label_smoothing", "balance"),
        (0.0, 1.0),
    ),
    (
        "Augmentation: p, and D's overfitting signal r_t = E[sign(D(real))]",
        ("augment_p", "d_real_sign"),
        (-1.0, 1.0),
    ),
)
# Quality metrics of the evaluation callback, by chart.
QUALITY_CHARTS = (
    ("FCD (lower is better)", ("fcd",), None),
    ("KID (lower is better)", ("kid",), None),
    ("Classifier score (higher is better)", ("classifier_score",), None),
    ("Classes covered", ("classes_covered",), None),
    ("Class KL divergence (lower is better)", ("class_kl",), None),
    ("Precision and recall", ("precision", "recall"), (0.0, 1.0)),
)
# Columns that are bookkeeping, not curves.
_NOT_CURVES = {"epoch", "kid_std", "health", "classes_counted"}
_GRID = re.compile(r"^epoch_(\d+)\.png$")

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px;
       padding: 0 16px; color: #1b1b1b; }
h1 { font-size: 22px; margin-bottom: 2px; } h2 { font-size: 17px; margin-top: 28px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #555; } .row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
figure { margin: 0; text-align: center; } figcaption { color: #555; font-size: 12px; }
img.pixels { image-rendering: pixelated; background: #000; }
.strip { display: flex; gap: 8px; overflow-x: auto; padding-bottom: 8px; }
.chart { background: #fff; border: 1px solid #e4e4e4; border-radius: 4px; }
.chart .grid { stroke: #eee; } .chart .frame { fill: none; stroke: #bbb; }
.chart .tick, .chart .legend, .chart .axis-label { font-size: 11px; fill: #444; }
.chart .chart-title { font-size: 13px; font-weight: 600; fill: #222; }
.chart .chart-empty { fill: #999; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px;
        text-align: left; vertical-align: top; } th { background: #f5f5f5; }
.failure { color: #b00020; font-weight: 600; } .ok { color: #1b7f3b; }
.badge { display: inline-block; min-width: 18px; padding: 1px 4px; margin: 1px;
         border-radius: 3px; font-size: 11px; color: #fff; text-align: center; }
.badge.ok { background: #1b7f3b; color: #fff; } .badge.bad { background: #b00020; }
.reason { color: #666; font-size: 12px; }
"""


def read_history(path):
    """Reads history.csv into `(columns, rows)`; values are floats, None or strings."""
    if not os.path.exists(path):
        return [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = []
        for raw in reader:
            row = {}
            for key, value in raw.items():
                if key is None:
                    continue
                if value in (None, ""):
                    row[key] = None
                    continue
                try:
                    row[key] = float(value)
                except ValueError:
                    row[key] = value
            rows.append(row)
        return list(reader.fieldnames or []), rows


def read_health(path):
    """Reads health.jsonl into `(findings, unreadable_line_count)`; `([], 0)` if absent."""
    findings, unreadable = [], 0
    if not os.path.exists(path):
        return findings, unreadable
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            try:
                finding = json.loads(line)
            except json.JSONDecodeError:
                unreadable += 1
                continue
            if isinstance(finding, dict) and "failure" in finding:
                findings.append(finding)
            else:
                unreadable += 1
    return findings, unreadable


def sample_grids(samples_dir):
    """`[(epoch, path), ...]` of the grids in `samples_dir`, by epoch."""
    if not os.path.isdir(samples_dir):
        return []
    grids = []
    for name in os.listdir(samples_dir):
        match = _GRID.match(name)
        if match:
            grids.append((int(match.group(1)), os.path.join(samples_dir, name)))
    return sorted(grids)


def spread(items, limit):
    """At most `limit` items, evenly spaced, always keeping the first and the last."""
    if len(items) <= limit:
        return list(items)
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, limit)).astype(int))
    return [items[i] for i in picks]


def _data_uri(data, mime):
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def progress_gif(grids, max_frames=50):
    """GIF bytes of the sample grids over epochs (the last frame held), or None."""
    from PIL import Image

    from kgan.images import gif_bytes

    frames = []
    for _, path in spread(grids, max_frames):
        with Image.open(path) as image:
            frame = np.asarray(image.convert("L" if image.mode in ("L", "1", "P") else "RGB"))
        frames.append(frame[..., None] if frame.ndim == 2 else frame)
    # A resumed run with another --num_samples makes grids of another size.
    frames = [f for f in frames if f.shape == frames[-1].shape] if frames else []
    if not frames:
        return None
    return gif_bytes(frames, duration_ms=[300] * (len(frames) - 1) + [1500])


def _series(rows, column):
    return [(row.get("epoch"), _number(row.get(column))) for row in rows]


def _number(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


def _charts(columns, rows, charts):
    out, used = [], set()
    for title, names, y_range in charts:
        present = [n for n in names if n in columns]
        used.update(present)
        if present:
            series = {n: _series(rows, n) for n in present}
            out.append(line_chart(title, series, y_range=y_range))
    return out, used


def _samples_section(grids, gif):
    if not grids:
        return "<p>No sample grids yet: they appear after the first epoch.</p>"
    epoch, path = grids[-1]
    parts = ['<div class="row">']
    parts.append(
        f'<figure><img class="pixels sample-grid" alt="samples after epoch {epoch}" '
        f'src="{_data_uri(_read_bytes(path), "image/png")}" width="{_display_width(path)}">'
        f"<figcaption>epoch {epoch}: the fixed latents</figcaption></figure>"
    )
    if gif is not None:
        parts.append(
            f'<figure><img class="pixels progress-gif" alt="samples over epochs" '
            f'src="{_data_uri(gif, "image/gif")}" width="{_display_width(path)}">'
            "<figcaption>the same latents, epoch by epoch (progress.gif)</figcaption></figure>"
        )
    parts.append('</div><h3>Over time</h3><div class="strip">')
    for epoch, path in spread(grids, 24):
        parts.append(
            f'<figure><img class="pixels sample-grid" alt="epoch {epoch}" '
            f'src="{_data_uri(_read_bytes(path), "image/png")}" width="180">'
            f"<figcaption>epoch {epoch}</figcaption></figure>"
        )
    parts.append("</div>")
    return "".join(parts)


def _display_width(path):
    from PIL import Image

    with Image.open(path) as image:
        width = image.size[0]
    # Small grids (MNIST) are shown at 2x with crisp pixels.
    return width * 2 if width <= 300 else width


def _health_section(findings, unreadable, exists, rows):
    parts = []
    statuses = [(row.get("epoch"), row.get("health")) for row in rows if row.get("health")]
    if statuses:
        parts.append("<p>Per epoch: ")
        for epoch, status in statuses:
            kind = "ok" if status == "ok" else "bad"
            epoch_text = f"{epoch:g}" if isinstance(epoch, float) else html.escape(str(epoch))
            parts.append(
                f'<span class="badge {kind}" title="{html.escape(str(status))}">{epoch_text}</span>'
            )
        parts.append("</p>")
    if not exists:
        parts.append(
            "<p>No <code>health.jsonl</code> in this run: the health monitor writes its "
            "findings there when it runs.</p>"
        )
    elif not findings:
        parts.append('<p class="ok">The health monitor found no problem.</p>')
    else:
        parts.append(
            "<table><tr><th>epoch</th><th>step</th><th>failure</th><th>evidence</th>"
            "<th>suggestion</th></tr>"
        )
        for f in findings:
            parts.append(
                "<tr>"
                f"<td>{html.escape(str(f.get('epoch', '')))}</td>"
                f"<td>{html.escape(str(f.get('step', '')))}</td>"
                f'<td class="failure">{html.escape(str(f.get("failure", "")))}</td>'
                f"<td>{html.escape(str(f.get('evidence', '')))}</td>"
                f"<td>{html.escape(str(f.get('suggestion', '')))}</td>"
                "</tr>"
            )
        parts.append("</table>")
    if unreadable:
        parts.append(f"<p>{unreadable} line(s) of health.jsonl could not be read.</p>")
    return "".join(parts)


def _best_section(out_dir):
    """Which epoch `generator/` holds, from `generator.json` (the quality probe's best)."""
    path = os.path.join(out_dir, "generator.json")
    if not os.path.exists(path):
        return ""
    try:
        with open(path) as f:
            best = json.load(f)
    except (OSError, ValueError):
        return "<p>generator.json could not be read.</p>"
    scores = ", ".join(
        f"{key} {best[key]:.4g}"
        for key in ("fcd", "precision", "recall", "class_kl")
        if isinstance(best.get(key), (int, float))
    )
    return (
        f'<p class="ok"><code>generator/</code> is the generator of epoch '
        f"{html.escape(str(best.get('epoch')))} (step {html.escape(str(best.get('step')))}), "
        f"the best the quality probe saw: {html.escape(scores)}. The last one is in "
        "<code>generator_last/</code>.</p>"
    )


def _config_section(config):
    if not config:
        return "<p>No <code>config.json</code> in this run.</p>"
    from kgan.config import Config

    reasons = {}
    for name in config:
        try:
            reasons[name] = Config.help(name)
        except StopIteration:
            reasons[name] = ""
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td>"
        f"<td><code>{html.escape(json.dumps(value))}</code></td>"
        f'<td class="reason">{html.escape(reasons[name])}</td></tr>'
        for name, value in sorted(config.items())
    )
    return f"<table><tr><th>field</th><th>value</th><th>why</th></tr>{rows}</table>"


def render_report(out_dir):
    """Returns the report page of the run in `out_dir` as HTML text.

    Also returns the progress GIF bytes (or None) as the second value, so
    the caller can save the same animation beside the page.
    """
    config = {}
    config_path = os.path.join(out_dir, "config.json")
    if os.path.exists(config_path):
        with open(config_path) as f:
            config = json.load(f)
    columns, rows = read_history(os.path.join(out_dir, "history.csv"))
    health_path = os.path.join(out_dir, "health.jsonl")
    findings, unreadable = read_health(health_path)
    grids = sample_grids(os.path.join(out_dir, "samples"))
    gif = progress_gif(grids)

    training, used = _charts(columns, rows, TRAINING_CHARTS)
    quality, used_quality = _charts(columns, rows, QUALITY_CHARTS)
    used |= used_quality
    others = [
        line_chart(name, {name: _series(rows, name)})
        for name in columns
        if name not in used
        and name not in _NOT_CURVES
        and any(_number(row.get(name)) is not None for row in rows)
    ]

    name = os.path.basename(os.path.abspath(out_dir))
    done = len(rows)
    total = config.get("epochs", "?")
    updated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    dataset = html.escape(str(config.get("dataset", "?")))
    quality_html = (
        f'<div class="row">{"".join(quality)}</div>'
        if quality
        else "<p>No quality metrics yet: they appear in the epochs the evaluation runs.</p>"
    )
    others_html = (
        f'<h2>Other metrics</h2><div class="row">{"".join(others)}</div>' if others else ""
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kgan: {html.escape(name)}</title>
<style>{_CSS}</style></head>
<body>
<h1>kgan run <code>{html.escape(name)}</code></h1>
<p class="meta">epoch {done} of {html.escape(str(total))} on <code>{dataset}</code>
&middot; updated {updated} &middot; this page is rewritten after every epoch</p>
<h2>Samples</h2>
{_samples_section(grids, gif)}
<h2>Training curves</h2>
<div class="row">{"".join(training) or "<p>No history yet.</p>"}</div>
<h2>Quality</h2>
{_best_section(out_dir)}
{quality_html}
{others_html}
<h2>Health</h2>
{_health_section(findings, unreadable, os.path.exists(health_path), rows)}
<h2>Config</h2>
{_config_section(config)}
</body></html>
"""
    return page, gif


def write_report(out_dir, path=None):
    """Writes the report page of the run in `out_dir` (atomically) and `progress.gif`.

    Args:
        out_dir: the run's folder (`config.out_dir`).
        path: the page to write; default `out_dir/report.html`.

    Returns:
        The page's path.
    """
    path = path or os.path.join(out_dir, "report.html")
    page, gif = render_report(out_dir)
    if gif is not None:
        atomic_write(os.path.join(out_dir, "progress.gif"), gif)
    return atomic_write(path, page.encode("utf-8"))
