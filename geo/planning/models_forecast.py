"""The forecasting models: one season (12 months) ahead per series, with an 80 % interval.

Input is a matrix of past seasons per series (series x seasons x 12 months, May to April) and
each series' group (its community), output the next season's mean, low and high per month.

- `seasonal_naive` (baseline): the same month last season (statsforecast `SeasonalNaive`);
- `seasonal_mean` (baseline): the mean of that month over the past seasons (statsforecast
  `SeasonalWindowAverage`), interval from the spread between seasons;
- `ets`: statsforecast `AutoETS` (season length 12), its own interval;
- `trended_profile`: the mean of each month over the past seasons, moved along the
  community's trend (log-linear fit of its season totals, shrunk by a fifth toward none), interval
  from the series' residuals around that fit. Communities, not cells, carry the trend: a cell
  of five residents has no trend one can read.

`bench/forecast_backtest.py` chooses between them on held-out seasons; `CHOSEN` is its choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Z80 = 1.2815515655446004  # the normal quantile of an 80 % central interval
MODELS = ("seasonal_naive", "seasonal_mean", "ets", "trended_profile")
BASELINES = ("seasonal_naive", "seasonal_mean")
CHOSEN = "trended_profile"
SHRINK = 0.8  # tried 0.5, 0.8, 1.0 on the backtest (bench/forecast_backtest.py)


@dataclass(frozen=True)
class Prediction:
    mean: np.ndarray  # series x 12
    low: np.ndarray
    high: np.ndarray


def predict(model: str, past: np.ndarray, groups: list[str]) -> Prediction:
    """The next season of every series of `past` (series x seasons x 12) by `model`."""
    if past.ndim != 3 or past.shape[2] != 12 or past.shape[1] < 2:
        raise ValueError("past must be series x seasons (at least 2) x 12 months")
    match model:
        case "seasonal_naive" | "ets":
            return _statsforecast(model, past)
        case "seasonal_mean":
            mean = past.mean(axis=1)
            sd = past.std(axis=1, ddof=1) * np.sqrt(1 + 1 / past.shape[1])
            return _interval(mean, sd)
        case "trended_profile":
            return _trended_profile(past, groups)
    raise ValueError(f"unknown model {model!r}; one of {', '.join(MODELS)}")


def _interval(mean: np.ndarray, sd: np.ndarray) -> Prediction:
    mean = np.maximum(mean, 0.0)
    return Prediction(mean, np.maximum(mean - Z80 * sd, 0.0), mean + Z80 * sd)


def _trended_profile(past: np.ndarray, groups: list[str]) -> Prediction:
    n = past.shape[1]
    t = np.arange(n) - (n - 1) / 2  # season index, centred
    growth = np.zeros(len(groups))
    for group in sorted(set(groups)):
        members = np.array([g == group for g in groups])
        totals = past[members].sum(axis=(0, 2)) + 1.0
        slope = np.polyfit(t, np.log(totals), 1)[0]
        growth[members] = SHRINK * slope  # a trend read off a few seasons overshoots
    fitted = past.mean(axis=1)[:, None, :] * np.exp(growth[:, None, None] * t[None, :, None])
    resid = past - fitted
    sd = np.sqrt((resid**2).sum(axis=1) / max(n - 2, 1) + fitted.mean(axis=1))  # + Poisson
    ahead = (n - 1) / 2 + 1
    mean = past.mean(axis=1) * np.exp(growth * ahead)[:, None]
    return _interval(mean, sd * np.sqrt(1 + 1 / n))


def _statsforecast(model: str, past: np.ndarray) -> Prediction:
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    series, seasons, _ = past.shape
    flat = past.reshape(series, seasons * 12)
    ds = pd.date_range("2001-05-01", periods=seasons * 12, freq="MS")
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(series), seasons * 12),
            "ds": np.tile(ds, series),
            "y": flat.ravel().astype(float),
        }
    )
    chosen = AutoETS(season_length=12) if model == "ets" else SeasonalNaive(season_length=12)
    name = "AutoETS" if model == "ets" else "SeasonalNaive"
    out = StatsForecast(models=[chosen], freq="MS", n_jobs=1).forecast(df=frame, h=12, level=[80])
    out = out.sort_values(["unique_id", "ds"])
    shape = (series, 12)
    mean = out[name].to_numpy().reshape(shape)
    low = out[f"{name}-lo-80"].to_numpy().reshape(shape)
    high = out[f"{name}-hi-80"].to_numpy().reshape(shape)
    return Prediction(np.maximum(mean, 0.0), np.maximum(low, 0.0), np.maximum(high, 0.0))
