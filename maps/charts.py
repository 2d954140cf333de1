"""Inline SVG bar charts for the side panel: no chart library, nothing to fetch."""

from __future__ import annotations

from html import escape


def bar_chart(
    title: str,
    bars: list[tuple[str, int | None]],
    *,
    width: int = 320,
    colour: str = "#3182bd",
    series2: list[int | None] | None = None,
    colour2: str = "#e6550d",
    legend: tuple[str, str] | None = None,
) -> str:
    """Vertical bars (two series side by side when `series2`); None is drawn as a hatched '<N'."""
    values = [v or 0 for _, v in bars] + [v or 0 for v in (series2 or [])]
    top = max(values + [1])
    height, pad, base = 190, 28, 130
    slot = (width - pad) / max(len(bars), 1)
    bar_w = slot * (0.4 if series2 else 0.75)
    label_every = max(1, round(14 / slot))  # about one label per 14 px
    parts = [
        f'<svg class="chart" width="{width}" height="{height + 20}" role="img"'
        f' aria-label="{escape(title)}">',
        f'<text x="4" y="14" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        x = pad + i * slot
        parts.append(_bar(x, value, top, bar_w, base, colour))
        if series2 is not None:
            parts.append(_bar(x + bar_w, series2[i], top, bar_w, base, colour2))
        if i % label_every == 0:  # thin the labels so they never overlap; slant them to fit
            lx = x + bar_w / 2
            parts.append(
                f'<text x="{lx:.1f}" y="{base + 10}" font-size="10" text-anchor="end"'
                f' transform="rotate(-40 {lx:.1f} {base + 10})">{escape(label)}</text>'
            )
    if legend:
        parts.append(
            f'<rect x="{width - 120}" y="22" width="10" height="10" fill="{colour}"/>'
            f'<text x="{width - 106}" y="31" font-size="11">{escape(legend[0])}</text>'
            f'<rect x="{width - 60}" y="22" width="10" height="10" fill="{colour2}"/>'
            f'<text x="{width - 46}" y="31" font-size="11">{escape(legend[1])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bar(x: float, value: int | None, top: int, w: float, base: int, colour: str) -> str:
    if value is None:  # suppressed: a fixed stub, never a height that reveals the count
        return (
            f'<rect x="{x:.1f}" y="{base - 6}" width="{w:.1f}" height="6" fill="#ccc">'
            f"<title>少于阈值，不公开</title></rect>"
        )
    h = 100 * value / top
    return (
        f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
        f'fill="{colour}"><title>{value}</title></rect>'
    )
