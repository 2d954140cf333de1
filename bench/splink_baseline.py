"""The peer for bench/intake.py: Splink 5 (DuckDB backend), a Fellegi-Sunter model like ours,
on the same reports, given the same normalised and placed evidence the intake extracted (names
with pinyin keys, sex, birth year, keyed hashes of full and masked numbers, WGS84 points): so
both are scored on linkage alone, not on reading Chinese addresses or converting GCJ-02.

Set up as a careful user would, by hand: comparisons mirroring ours (name by text, pinyin and
Jaro-Winkler; full ID and phone, then their masks; sex; birth year by difference; distance in
km), u by random sampling, m by expectation maximisation on three blocking passes (name,
phone mask, community and surname), lambda from a
deterministic rule (same full ID number). Bench-only dependency (`pip install .[bench]`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pandas as pd

from geo.residents.intake.evidence import Evidence


@dataclass
class SplinkRun:
    clusters: dict[float, list[int]]  # threshold -> cluster id per report, in input order
    seconds: float  # training, prediction and clustering at both thresholds


def features(evidence: list[Evidence]) -> pd.DataFrame:
    rows = []
    for i, e in enumerate(evidence):
        full = e.name is not None and not e.name.partial
        rows.append(
            {
                "unique_id": i,
                "name": e.name.text if full and e.name else None,
                "name_key": e.name.key if full and e.name else None,
                "surname_key": e.name.surname_key if e.name else None,
                "sex": e.sex,
                "birth_year": e.birth_year,
                "id_hash": e.id_hash,
                "id_partial": e.id_partial,
                "phone_hash": e.phone_hash,
                "phone_partial": e.phone_partial,
                "lat": e.lat,
                "lon": e.lon,
                "community_code": e.community_code,
            }
        )
    return pd.DataFrame(rows)


def _settings():  # noqa: ANN202 - splink types
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    name = cl.CustomComparison(
        [
            cll.Or(cll.NullLevel("surname_key")),
            cll.ExactMatchLevel("name"),
            cll.ExactMatchLevel("name_key"),
            cll.JaroWinklerLevel("name_key", 0.92),
            cll.ExactMatchLevel("surname_key"),
            cll.ElseLevel(),
        ],
        output_column_name="name",
    )
    id_number = cl.CustomComparison(
        [
            cll.NullLevel("id_partial"),
            cll.ExactMatchLevel("id_hash"),
            cll.CustomLevel("id_hash_l <> id_hash_r", "two full ID numbers differ"),
            cll.ExactMatchLevel("id_partial"),
            cll.ElseLevel(),
        ],
        output_column_name="id_number",
    )
    phone = cl.CustomComparison(
        [
            cll.NullLevel("phone_partial"),
            cll.ExactMatchLevel("phone_hash"),
            cll.CustomLevel("phone_hash_l <> phone_hash_r", "two full phones differ"),
            cll.ExactMatchLevel("phone_partial"),
            cll.ElseLevel(),
        ],
        output_column_name="phone",
    )
    birth = cl.CustomComparison(
        [
            cll.NullLevel("birth_year"),
            cll.ExactMatchLevel("birth_year"),
            cll.AbsoluteDifferenceLevel("birth_year", 1),
            cll.AbsoluteDifferenceLevel("birth_year", 3),
            cll.AbsoluteDifferenceLevel("birth_year", 5),
            cll.ElseLevel(),
        ],
        output_column_name="birth_year",
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name,
            id_number,
            phone,
            cl.ExactMatch("sex"),
            birth,
            cl.DistanceInKMAtThresholds("lat", "lon", [0.08, 0.4, 2.0]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_hash"),
            block_on("id_partial"),
            block_on("phone_partial"),
            block_on("name_key"),
            block_on("community_code", "surname_key"),
        ],
        retain_intermediate_calculation_columns=False,
    )


def run(evidence: list[Evidence], thresholds: tuple[float, ...] = (0.5, 0.99)) -> SplinkRun:
    """Train, predict and cluster; cluster ids per report at each match-probability threshold."""
    from splink import DuckDBAPI, Linker, block_on

    logging.getLogger("splink").setLevel(logging.ERROR)
    df = features(evidence)
    t = time.perf_counter()
    db = DuckDBAPI()
    linker = Linker(db.register(df), _settings(), log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("id_hash")], recall=0.5)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (
        block_on("name_key"),
        block_on("phone_partial"),
        block_on("community_code", "surname_key"),
    ):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    clusters: dict[float, list[int]] = {}
    for threshold in thresholds:
        table = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold
        ).as_pandas_dataframe()
        by_id = dict(zip(table["unique_id"], table["cluster_id"], strict=True))
        clusters[threshold] = [hash(by_id[i]) for i in range(len(evidence))]
    return SplinkRun(clusters, time.perf_counter() - t)
