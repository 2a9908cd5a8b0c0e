"""Charts as SVG drawn on the server: no script, no build step, readable offline and by a screen reader.

Every chart is a list of rows whose horizontal positions are percentages of the chart's width, so
one drawing fits a 1280-pixel screen and a 390-pixel phone without shrinking its text (SVG's own
scaling would). Each chart carries its numbers as text, a title and a description, and the pages
put a table of the same numbers next to it; colour is never the only signal (patterns and words
tell the segments apart).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

_ids = itertools.count(1)
ROW = 44  # height of one labelled bar
BAR = 12
# Fills of stacked segments: colour and a pattern, so they differ in grey too.
PATTERNS = {
    "solid": "", "hatch": "url(#p-hatch)", "cross": "url(#p-cross)", "dots": "url(#p-dots)",
}
DEFS = Markup(  # once per page (see `defs`), referenced by every chart on it
    '<svg class="chart-defs" width="0" height="0" aria-hidden="true" focusable="false"><defs>'
    '<pattern id="p-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="6" height="6" fill="#fb8f44"/><line x1="0" y1="0" x2="0" y2="6" stroke="#953800" stroke-width="3"/>'
    '</pattern>'
    '<pattern id="p-cross" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<rect width="6" height="6" fill="#ff8182"/><path d="M0 0L6 6M6 0L0 6" stroke="#a40e26" stroke-width="1.4"/>'
    '</pattern>'
    '<pattern id="p-dots" width="5" height="5" patternUnits="userSpaceOnUse">'
    '<rect width="5" height="5" fill="#d8b9ff"/><circle cx="2.5" cy="2.5" r="1.3" fill="#6639ba"/></pattern>'
    '<pattern id="p-weekend" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="8" height="8" fill="#f6f8fa"/><line x1="0" y1="0" x2="0" y2="8" stroke="#d0d7de" stroke-width="3"/>'
    '</pattern>'
    '</defs></svg>')


def pct(x: float) -> str:
    return f"{max(0.0, min(100.0, x)):.2f}%"


def percent(rate: float | None, digits: int = 1) -> str:
    return "—" if rate is None else f"{rate * 100:.{digits}f}%"


def duration(seconds: float | None) -> str:
    """A span for people: 45 s, 12 min, 3.5 h, 2.1 days."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _text(x: str, y: float, text: str, *, anchor: str = "start", cls: str = "", clip: str | None = None) -> str:
    """One line of text; with `clip` (a width such as "64%") it is cut at that width, not overlapping."""
    inner = (f'<text x="{x if clip is None else 0}" y="{y if clip is None else 13}" text-anchor="{anchor}"'
             f'{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{escape(text)}</text>')
    if clip is None:
        return inner
    return f'<svg x="{x}" y="{y - 13}" width="{clip}" height="18" overflow="hidden">{inner}</svg>'


def _svg(title: str, desc: str, height: float, body: str, cls: str = "chart") -> Markup:
    n = next(_ids)
    return Markup(
        f'<svg class="{cls}" xmlns="http://www.w3.org/2000/svg" width="100%" height="{height:.0f}" role="img" '
        f'aria-labelledby="chart{n}-t chart{n}-d"><title id="chart{n}-t">{escape(title)}</title>'
        f'<desc id="chart{n}-d">{escape(desc)}</desc>{body}</svg>')


@dataclass
class Bar:
    label: str
    value: float  # in the chart's scale (0..scale)
    text: str  # the number, right-aligned on the label's line
    note: str = ""  # a line under the bar
    whisker: tuple[float, float] | None = None  # an interval on the same scale
    kind: str = ""  # a css class for the bar


def bars(title: str, desc: str, rows: list[Bar], *, scale: float | None = None, centred: bool = False) -> Markup:
    """Labelled horizontal bars: label and number on one line, the bar under them (and a note)."""
    scale = scale or max([r.value for r in rows] + [w[1] for r in rows if r.whisker for w in [r.whisker]] + [0]) or 1
    out, y = [], 0.0
    for row in rows:
        width = 100 * row.value / scale
        x = (100 - width) / 2 if centred else 0
        out.append(_text("0", y + 14, row.label, cls="label", clip="66%"))
        out.append(_text("100%", y + 14, row.text, anchor="end", cls="value"))
        out.append(f'<rect class="track" x="0" y="{y + 20}" width="100%" height="{BAR}" rx="3"/>')
        if row.value > 0:
            out.append(f'<rect class="bar {row.kind}" x="{pct(x)}" y="{y + 20}" width="{pct(max(width, 0.6))}" '
                       f'height="{BAR}" rx="3"/>')
        if row.whisker:
            lo, hi = (100 * v / scale for v in row.whisker)
            mid = y + 20 + BAR / 2
            out.append(f'<g class="whisker"><line x1="{pct(lo)}" y1="{mid}" x2="{pct(hi)}" y2="{mid}"/>'
                       f'<line x1="{pct(lo)}" y1="{mid - 5}" x2="{pct(lo)}" y2="{mid + 5}"/>'
                       f'<line x1="{pct(hi)}" y1="{mid - 5}" x2="{pct(hi)}" y2="{mid + 5}"/></g>')
        y += ROW
        if row.note:
            out.append(_text("0", y - 2, row.note, cls="note", clip="100%"))
            y += 14
    return _svg(title, desc, y + 2, "".join(out))


def funnel(title: str, desc: str, levels: list[tuple[str, int, str]]) -> Markup:
    """The funnel: a centred bar per level, widest first, each joined to the next by a band that
    carries the conversion between them (`levels`: label, count, conversion into this level)."""
    top = max([n for _, n, _ in levels] + [1])
    widths = [max(100 * n / top, 0.6) for _, n, _ in levels]
    out, y = [], 0.0
    for i, (label, n, _) in enumerate(levels):
        x = (100 - widths[i]) / 2
        out.append(_text("0", y + 14, label, cls="label", clip="70%"))
        out.append(_text("100%", y + 14, f"{n:,}", anchor="end", cls="value"))
        out.append(f'<rect class="bar level{i}" x="{pct(x)}" y="{y + 20}" width="{pct(widths[i])}" height="16" '
                   'rx="3"/>')
        y += 36
        if i + 1 < len(levels):
            a, b = (100 - widths[i]) / 2, (100 - widths[i + 1]) / 2
            out.append(f'<svg x="0" y="{y}" width="100%" height="30" viewBox="0 0 100 30" preserveAspectRatio="none">'
                       f'<polygon class="band" points="{a:.2f},0 {100 - a:.2f},0 {100 - b:.2f},30 {b:.2f},30"/></svg>')
            out.append(_text("50%", y + 20, levels[i + 1][2], anchor="middle", cls="conversion"))
            y += 30
    return _svg(title, desc, y + 4, "".join(out))


@dataclass
class Column:
    key: str
    heading: str
    short: str = ""  # the heading on a phone


def _heading(x: str, text: str, short: str, width: str) -> str:
    """A column heading, and a shorter one the stylesheet shows instead on narrow screens."""
    if not short or short == text:
        return _text(x, 12, text, cls="head", clip=width)
    return (_text(x, 12, text, cls="head long", clip=width) + _text(x, 12, short, cls="head short", clip=width))


def heat_table(title: str, desc: str, columns: list[Column], rows: list[dict], *, label: str,
               count: Column) -> Markup:
    """A row per item (its label on a line of its own), a cell per rate with the number and a bar
    as long as the rate is against the highest of its column."""
    n = len(columns) + 1
    highest = {c.key: max([r[c.key] or 0 for r in rows] + [0]) or 1 for c in columns}
    width = pct(100 / n - 0.5)
    out = [_heading(pct(0), count.heading, count.short, width)]
    out += [_heading(pct(100 * (i + 1) / n), c.heading, c.short, width) for i, c in enumerate(columns)]
    y = 22.0
    for row in rows:
        out.append(f'<line class="rule" x1="0" y1="{y}" x2="100%" y2="{y}"/>')
        out.append(_text("0", y + 16, row[label], cls="label", clip="100%"))
        out.append(_text(pct(0), y + 34, f"{row[count.key]:,}", cls="value"))
        for i, c in enumerate(columns):
            x0 = 100 * (i + 1) / n
            rate = row[c.key]
            out.append(_text(pct(x0), y + 34, percent(rate), cls="value"))
            width = (100 / n - 2) * (rate or 0) / highest[c.key]
            out.append(f'<rect class="track" x="{pct(x0)}" y="{y + 39}" width="{pct(100 / n - 2)}" height="5"/>')
            if rate:
                out.append(f'<rect class="bar {c.key}" x="{pct(x0)}" y="{y + 39}" width="{pct(max(width, 0.4))}" '
                           f'height="5"/>')
        y += 52
    return _svg(title, desc, y + 2, "".join(out))


LOG_TICKS = ((60, "1 min"), (3600, "1 h"), (86400, "1 day"), (7 * 86400, "1 week"))


def log_position(seconds: float, low: float = 1, high: float = 30 * 86400) -> float:
    """Where `seconds` falls on a logarithmic axis from `low` to `high`, in percent."""
    s = min(max(seconds, low), high)
    return 100 * (math.log10(s) - math.log10(low)) / (math.log10(high) - math.log10(low))


def spans(title: str, desc: str, rows: list[tuple[str, float | None, float | None, str]]) -> Markup:
    """Time spans on a logarithmic axis: a bar to the median, a whisker on to the 90th percentile."""
    out, y = [], 0.0
    for label, median, p90, text in rows:
        out.append(_text("0", y + 14, label, cls="label", clip="40%"))
        out.append(_text("100%", y + 14, text, anchor="end", cls="value"))
        out.append(f'<rect class="track" x="0" y="{y + 20}" width="100%" height="{BAR}" rx="3"/>')
        if median is not None:
            m = log_position(median)
            out.append(f'<rect class="bar" x="0" y="{y + 20}" width="{pct(max(m, 0.6))}" height="{BAR}" rx="3"/>')
            p = log_position(p90 if p90 is not None else median)
            mid = y + 20 + BAR / 2
            out.append(f'<g class="whisker"><line x1="{pct(m)}" y1="{mid}" x2="{pct(p)}" y2="{mid}"/>'
                       f'<line x1="{pct(p)}" y1="{mid - 6}" x2="{pct(p)}" y2="{mid + 6}"/></g>')
        y += ROW
    out.append(f'<line class="rule" x1="0" y1="{y}" x2="100%" y2="{y}"/>')
    for seconds, name in LOG_TICKS:
        x = log_position(seconds)
        out.append(f'<line class="tick" x1="{pct(x)}" y1="{y}" x2="{pct(x)}" y2="{y + 5}"/>')
        out.append(_text(pct(x), y + 18, name, anchor="middle", cls="note"))
    return _svg(title, desc, y + 24, "".join(out))


@dataclass
class Segment:
    key: str
    name: str
    pattern: str = "solid"


@dataclass
class Stack:
    label: str
    counts: dict[str, int]
    text: str
    extra: dict = field(default_factory=dict)


def stacked(title: str, desc: str, segments: list[Segment], rows: list[Stack]) -> Markup:
    """A bar per row split into segments (each with its count written in it when there is room),
    all rows on one scale, and a legend naming each segment's pattern."""
    top = max([sum(r.counts.get(s.key, 0) for s in segments) for r in rows] + [1])
    out, y = [], 0.0
    for i, s in enumerate(segments):  # the legend, two per line so it fits a phone
        x = 50 * (i % 2)
        ly = y + 18 * (i // 2)
        out.append(f'<rect class="seg {s.key}" x="{pct(x)}" y="{ly + 3}" width="14" height="12" '
                   f'{_fill(s)}/>')
        out.append(_text(pct(x + 5.5), ly + 13, s.name, cls="note", clip=pct(44)))
    y += 18 * math.ceil(len(segments) / 2) + 8
    for row in rows:
        out.append(_text("0", y + 14, row.label, cls="label", clip="50%"))
        out.append(_text("100%", y + 14, row.text, anchor="end", cls="value"))
        x = 0.0
        for s in segments:
            n = row.counts.get(s.key, 0)
            if not n:
                continue
            width = 100 * n / top
            out.append(f'<rect class="seg {s.key}" x="{pct(x)}" y="{y + 20}" width="{pct(width)}" height="16" '
                       f'{_fill(s)}><title>{escape(s.name)}: {n}</title></rect>')
            if width >= 4:
                out.append(_text(pct(x + width / 2), y + 32, str(n), anchor="middle", cls="in-bar"))
            x += width
        y += ROW + 4
    return _svg(title, desc, y, "".join(out))


def _fill(segment: Segment) -> str:
    pattern = PATTERNS.get(segment.pattern, "")
    return f'fill="{pattern}"' if pattern else ""


def day_track(window: tuple[float, float] | None, marks: list[tuple[float, str, str]], *, off: str | None) -> Markup:
    """One day of a cadence's timeline, 00:00 to 24:00: the send window shaded (unless the day is
    `off`: a weekend or holiday, hatched and named) and a numbered marker per step at its hour,
    in its channel's colour (`marks`: hour, label, channel)."""
    out = ['<rect class="day" x="0" y="3" width="100%" height="22" rx="4"/>']
    if off:
        out.append('<rect x="0" y="3" width="100%" height="22" rx="4" fill="url(#p-weekend)"/>')
    elif window:
        start, end = window
        out.append(f'<rect class="window" x="{pct(100 * start / 24)}" y="3" width="{pct(100 * (end - start) / 24)}" '
                   f'height="22"/>')
    for hour in (6, 12, 18):
        out.append(f'<line class="tick" x1="{pct(100 * hour / 24)}" y1="3" x2="{pct(100 * hour / 24)}" y2="25"/>')
    if off:
        out.append(f'<text class="off" x="50%" y="18" text-anchor="middle">{escape(off)}</text>')
    for hour, label, channel in marks:
        x = pct(100 * min(max(hour, 0.4), 23.6) / 24)
        out.append(f'<g class="mark ch-{escape(channel)}"><circle cx="{x}" cy="14" r="10"/>'
                   f'<text x="{x}" y="18" text-anchor="middle">{escape(label)}</text></g>')
    return Markup(f'<svg class="track" xmlns="http://www.w3.org/2000/svg" width="100%" height="28" '
                  f'aria-hidden="true" focusable="false">{"".join(out)}</svg>')
