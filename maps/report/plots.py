"""The season report's plots (matplotlib, drawn off screen) as SVG data URIs, labelled in Chinese
with Noto Sans CJK (Debian `fonts-noto-cjk`).

Plots take published figures only: a suppressed count (None) is drawn as a gap in a line and as a
short grey stub on a bar, never at a height that tells the number. Text is drawn as paths, so a
plot looks the same wherever the report is opened.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from geo.core.errors import DomainError  # noqa: E402

FONT_FAMILY = "Noto Sans CJK SC"
INSTALL_HINT = "install the Debian package fonts-noto-cjk (apt-get install fonts-noto-cjk)"
BLUE, ORANGE, GREY, GREEN = "#3182bd", "#e6550d", "#bdbdbd", "#31a354"
SUPPRESSED_LABEL = "已抑制"


class FontMissing(DomainError):
    """The Chinese font the report needs is not installed."""


@lru_cache(maxsize=1)
def cjk_font() -> Path:
    """The file of Noto Sans CJK SC, found with fontconfig (`fc-match`), else by matplotlib's
    font manager; FontMissing, naming the package to install, when neither finds it."""
    candidates: list[str] = []
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "--format=%{file}", f"{FONT_FAMILY}:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        candidates.append(found.stdout.strip())
    candidates += [f.fname for f in font_manager.fontManager.ttflist if f.name == FONT_FAMILY]
    for name in candidates:
        path = Path(name)
        if "NotoSansCJK" in path.name.replace(" ", "") and path.is_file():
            return path
    raise FontMissing(f"the report's Chinese font {FONT_FAMILY} is not installed: {INSTALL_HINT}")


def use_cjk_font() -> None:
    """Register the CJK font with matplotlib and draw every label in it."""
    font_manager.fontManager.addfont(str(cjk_font()))
    plt.rcParams["font.family"] = [FONT_FAMILY]
    plt.rcParams["axes.unicode_minus"] = False  # the CJK font's minus sign
    plt.rcParams["svg.fonttype"] = "path"


def _svg(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _values(series: Sequence[int | None]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in series]


def _stub_height(*series: Sequence[int | None]) -> float:
    top = max([v for s in series for v in s if v is not None] + [1])
    return top * 0.02


def _bars(
    ax: Any, x: Sequence[float], values: Sequence[int | None], width: float, **kw: Any
) -> None:
    """Bars of the shown values; a suppressed one is a grey stub of fixed height."""
    stub = _stub_height(values)
    shown = [(xi, v) for xi, v in zip(x, values, strict=True) if v is not None]
    hidden = [xi for xi, v in zip(x, values, strict=True) if v is None]
    if shown:
        ax.bar([xi for xi, _ in shown], [v for _, v in shown], width, **kw)
    if hidden:
        ax.bar(hidden, [stub] * len(hidden), width, color=GREY, hatch="//", edgecolor="#888")


def months_year_over_year(
    months: Sequence[str], now: Sequence[int | None], before: Sequence[int | None], season: int
) -> str:
    """Residents present per month of the season beside the same months a year earlier."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    x = list(range(len(months)))
    _bars(ax, [i - 0.2 for i in x], before, 0.4, color=GREY, label=f"{season - 1}季")
    _bars(ax, [i + 0.2 for i in x], now, 0.4, color=BLUE, label=f"{season}季")
    ax.set_xticks(x, [m[5:] + "月" for m in months])
    ax.set_ylabel("在住人数")
    ax.set_title("全市按月在住人数（同比）")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def weekly_flows(
    weeks: Sequence[str], arrivals: Sequence[int | None], departures: Sequence[int | None]
) -> str:
    """The city's arrivals and departures per week (gaps where suppressed)."""
    fig, ax = plt.subplots(figsize=(8, 3))
    x = list(range(len(weeks)))
    ax.plot(x, _values(arrivals), color=BLUE, marker=".", label="到达")
    ax.plot(x, _values(departures), color=ORANGE, marker=".", label="离开")
    step = max(1, len(weeks) // 12)
    ax.set_xticks(x[::step], [w[5:] for w in weeks[::step]], rotation=40)
    ax.set_ylabel("人数")
    ax.set_title("全市每周到达与离开")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def horizontal_bars(title: str, labels: Sequence[str], values: Sequence[int | None]) -> str:
    """One bar per label (age bands, provinces), suppressed ones as grey stubs."""
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(labels) + 1.2))
    y = list(range(len(labels)))
    stub = _stub_height(values)
    for yi, v in zip(y, values, strict=True):
        if v is None:
            ax.barh(yi, stub, 0.6, color=GREY, hatch="//", edgecolor="#888")
        else:
            ax.barh(yi, v, 0.6, color=BLUE)
    ax.set_yticks(y, list(labels))
    ax.invert_yaxis()
    ax.set_xlabel("在住人数（灰色斜线：已抑制）")
    ax.set_title(title)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def coverage_tiers(tiers: dict[str, list[tuple[str, int | None]]]) -> str:
    """Residents 65+ per walking tier, one group of bars per target."""
    fig, ax = plt.subplots(figsize=(8, 3))
    targets = list(tiers)
    labels = [label for label, _ in tiers[targets[0]]]
    width = 0.8 / len(targets)
    colours = (BLUE, GREEN, ORANGE)
    for n, target in enumerate(targets):
        x = [i + (n - (len(targets) - 1) / 2) * width for i in range(len(labels))]
        values = [v for _, v in tiers[target]]
        _bars(ax, x, values, width, color=colours[n % 3], label=target)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylabel("65岁及以上在住人数")
    ax.set_title("步行时间分层（15分钟生活圈）")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def forecast_band(
    months: Sequence[str],
    mean: Sequence[int | None],
    low: Sequence[int | None],
    high: Sequence[int | None],
    this_season: Sequence[int | None],
    season: int,
) -> str:
    """Next season's city forecast with its 80 % interval, beside this season's months."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    x = list(range(len(months)))
    ax.fill_between(x, _values(low), _values(high), color=BLUE, alpha=0.2, label="80%区间")
    ax.plot(x, _values(mean), color=BLUE, marker="o", label=f"{season}季预测")
    ax.plot(x, _values(this_season), color=GREY, marker=".", label=f"{season - 1}季实际")
    ax.set_xticks(x, [m[5:] + "月" for m in months])
    ax.set_ylabel("在住人数")
    ax.set_title(f"全市{season}季预测")
    ax.legend(frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)
