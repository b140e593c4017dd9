"""Line charts as inline SVG text: no JavaScript, no plotting library, no network.

Used by the report page (`kgan.report_page`); a chart is a string that any
browser draws on its own.

Example:

>>> svg = line_chart("losses", {"d_loss": [(1, 1.3), (2, 1.2)], "g_loss": [(1, 0.8), (2, 0.9)]})
"""

import html
import math

# Colour-blind-safe (Okabe-Ito) line colours, in order of the series.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")


def nice_ticks(low, high, count=5):
    """About `count` round tick values covering [low, high] (1, 2, 2.5 or 5 x 10^k apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _label(value):
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.4g}"


def line_chart(title, series, width=440, height=250, x_label="epoch", y_range=None):
    """Returns an SVG line chart of `series` with axes, ticks and a legend.

    Args:
        title: the chart's heading (escaped).
        series: `{name: [(x, y), ...]}`; points with a missing or non-finite
            `y` are skipped and break the line there. Every point is also a
            dot, so a single epoch still shows.
        width, height: size in CSS pixels.
        x_label: caption of the x axis.
        y_range: `(low, high)` to fix the y axis (e.g. accuracies in [0, 1]);
            default: the data's range.

    Returns:
        `<svg ...>...</svg>` text with `class="chart"` and one
        `class="series"` group per series holding data.
    """
    left, right, top, bottom = 56, 12, 28, 40
    legend_height = 18 * math.ceil(len(series) / 3)
    plot_w, plot_h = width - left - right, height - top - bottom - legend_height
    points = {
        name: [(float(x), float(y)) for x, y in values if y is not None and math.isfinite(y)]
        for name, values in series.items()
    }
    xs = [x for values in points.values() for x, _ in values]
    ys = [y for values in points.values() for _, y in values]
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{left}" y="18" class="chart-title">{html.escape(title)}</text>',
    ]
    if not xs:
        parts.append(
            f'<text x="{width / 2}" y="{top + plot_h / 2}" text-anchor="middle" '
            'class="chart-empty">no data yet</text></svg>'
        )
        return "".join(parts)

    x_ticks = nice_ticks(min(xs), max(xs))
    x_ticks = [t for t in x_ticks if t == int(t)] or x_ticks  # epochs are whole
    y_low, y_high = y_range or (min(ys), max(ys))
    y_ticks = nice_ticks(min(y_low, min(ys)), max(y_high, max(ys)))
    x_low, x_high = min(x_ticks[0], min(xs)), max(x_ticks[-1], max(xs))
    y_low, y_high = y_ticks[0], y_ticks[-1]
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1

    def px(x):
        return left + (x - x_low) / (x_high - x_low) * plot_w

    def py(y):
        return top + plot_h - (y - y_low) / (y_high - y_low) * plot_h

    # === Axes and grid ===
    for t in y_ticks:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" '
            'class="grid"/>'
            f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" class="tick">'
            f"{_label(t)}</text>"
        )
    for t in x_ticks:
        if x_low <= t <= x_high:
            parts.append(
                f'<text x="{px(t):.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'class="tick">{_label(t)}</text>'
            )
    parts.append(
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" class="frame"/>'
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 32}" text-anchor="middle" '
        f'class="axis-label">{html.escape(x_label)}</text>'
    )

    # === Series: polylines broken at gaps, a dot per point ===
    for i, (name, raw) in enumerate(series.items()):
        colour = COLOURS[i % len(COLOURS)]
        values = points[name]
        parts.append(f'<g class="series" data-name="{html.escape(name)}" stroke="{colour}">')
        run = []
        for x, y in list(raw) + [(None, None)]:
            if y is not None and x is not None and math.isfinite(float(y)):
                run.append(f"{px(float(x)):.1f},{py(float(y)):.1f}")
                continue
            if len(run) > 1:
                parts.append(f'<polyline fill="none" stroke-width="2" points="{" ".join(run)}"/>')
            run = []
        for x, y in values:
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}">'
                f"<title>{html.escape(name)} @ {_label(x)}: {y:.6g}</title></circle>"
            )
        parts.append("</g>")
        # Legend: three entries per row under the axis label.
        row, column = divmod(i, 3)
        lx = left + column * (plot_w / 3)
        ly = top + plot_h + 48 + row * 18
        parts.append(
            f'<line x1="{lx:.1f}" x2="{lx + 16:.1f}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{lx + 20:.1f}" y="{ly}" class="legend">{html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
