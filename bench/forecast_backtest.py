"""Backtest of next season's presence forecast on held-out seasons, beside naive baselines.

Train to 2024, predict season 2025; train to 2025, predict 2026. Every model forecasts each cell
(geo/planning/models_forecast.py), communities are the bottom-up sums (their interval from the
cells' as independent errors, as geo/planning/forecast.py reconciles), and each community's
forecast is scored: MASE (scaled by the seasonal naive's in-sample error, lag 12), sMAPE and
the share of months inside the 80 % interval. The history is synthetic
(geo/demo/presence_history.py: the demo's cells, seasons 2017-2026, seasonal shape, trend per
community, shocks and Poisson noise, seed 20261130), stated as such. Also: the time to forecast
every cell at the demo scale and at 10x the series.

    .venv/bin/python bench/forecast_backtest.py [--per-community] [--seed 20261130]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from geo.demo import grid, presence_history
from geo.planning.forecast import bottom_up
from geo.planning.models_forecast import BASELINES, CHOSEN, MODELS, predict

FOLDS = ((2024, 2025), (2025, 2026))


def _matrix(series: list[presence_history.Series]) -> np.ndarray:
    values = np.array([s.residents for s in series], dtype=float)
    return values.reshape(len(series), len(presence_history.SEASONS), 12)


def _scores(actual: np.ndarray, pred, train: np.ndarray) -> dict[str, np.ndarray]:  # noqa: ANN001
    mean, low, high = pred
    flat = train.reshape(train.shape[0], -1)
    scale = np.abs(flat[:, 12:] - flat[:, :-12]).mean(axis=1)
    mase = np.abs(actual - mean).mean(axis=1) / np.where(scale > 0, scale, np.nan)
    denom = np.abs(actual) + np.abs(mean)
    smape = 100 * np.where(denom > 0, 2 * np.abs(actual - mean) / np.where(denom > 0, denom, 1), 0)
    covered = ((actual >= low) & (actual <= high)).mean(axis=1)
    return {"mase": mase, "smape": smape.mean(axis=1), "coverage": covered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=presence_history.SEED)
    parser.add_argument("--per-community", action="store_true")
    args = parser.parse_args()
    cells = [(c.code, c.parent_code) for c in grid.generate().cells]
    series = presence_history.generate(cells, seed=args.seed)
    groups = [s.community_code for s in series]
    data = _matrix(series)
    seasons = presence_history.SEASONS
    print(
        f"synthetic history: {len(series)} cells, {len(set(groups))} communities, "
        f"seasons {seasons[0]}-{seasons[-1]}, seed {args.seed}"
    )
    summary: dict[str, list[np.ndarray]] = {m: [] for m in MODELS}
    for train_to, target in FOLDS:
        train = data[:, : seasons.index(train_to) + 1]
        actual_cells = data[:, seasons.index(target)]
        communities, actual = bottom_up(groups, actual_cells)
        _, train_comm = bottom_up(groups, train.reshape(len(series), -1))
        train_comm = train_comm.reshape(len(communities), -1, 12)
        print(f"\ntrain to {train_to}, predict {target}: {len(communities)} communities")
        print(
            f"{'model':<16}{'MASE mean':>10}{'median':>8}{'rel. naive':>11}{'sMAPE %':>9}"
            f"{'cover80':>9}{'beats naive':>13}{'seconds':>9}"
        )
        scored = {}
        for model in MODELS:
            t0 = time.perf_counter()
            pred = predict(model, train, groups)
            seconds = time.perf_counter() - t0
            _, mean, low, high = bottom_up(groups, pred.mean, pred.low, pred.high)
            scored[model] = s = _scores(actual, (mean, low, high), train_comm)
            naive = scored.get("seasonal_naive", s)["mase"]
            summary[model].append(s["mase"] / naive)  # relative MAE: MASE against the naive
            beats = np.nanmean(s["mase"] < naive)
            print(
                f"{model:<16}{np.nanmean(s['mase']):>10.3f}{np.nanmedian(s['mase']):>8.3f}"
                f"{np.nanmean(s['mase'] / naive):>11.3f}"
                f"{s['smape'].mean():>9.1f}{s['coverage'].mean():>9.2f}"
                f"{beats:>13.0%}{seconds:>9.2f}"
            )
        if args.per_community:
            print("community      " + "".join(f"{m[:14]:>16}" for m in MODELS) + "  (MASE)")
            for i, c in enumerate(communities):
                print(f"{c:<15}" + "".join(f"{scored[m]['mase'][i]:>16.3f}" for m in MODELS))
    print("\nover both folds, per community: MAE / seasonal naive's MAE (MASE against the naive)")
    means = {m: float(np.nanmean(np.concatenate(v))) for m, v in summary.items()}
    for m, v in means.items():
        print(f"  {m:<16}{v:.3f}")
    best = min((m for m in MODELS if m not in BASELINES), key=means.__getitem__)
    beats_both = all(means[best] < means[b] for b in BASELINES) and means[best] < 1
    print(
        f"chosen by backtest: {best} (in use: {CHOSEN}); beats both baselines and MASE < 1:"
        f" {beats_both}"
    )
    for scale in (1.0, 10.0):  # the forecast of every cell at demo scale and 10x the series
        big = cells * int(scale)
        many = presence_history.generate(big, seed=args.seed)
        past = _matrix(many)[:, :-1]
        t0 = time.perf_counter()
        predict(CHOSEN, past, [s.community_code for s in many])
        seconds = time.perf_counter() - t0
        print(
            f"forecast {CHOSEN} for {len(many)} series: {seconds:.3f} s"
            f" ({len(many) / seconds:,.0f} series/s)"
        )


if __name__ == "__main__":
    main()
