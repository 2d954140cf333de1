"""The feed's Features kept by (id, version, clock state): what a race between its two
statements does, on the real database."""

from __future__ import annotations

from geo.cases import feed, feed_cache


def test_a_case_changed_between_the_statements_builds_the_body_in_one(
    session, callers, new_case, monkeypatch
):
    new_case("dispatched")
    me = callers["grid_worker"].principal
    store = feed_cache.FeedFeatures(2**20)
    read = feed.feature_texts

    def changed_meanwhile(*args, **kwargs):
        (i, v, s), text = read(*args, **kwargs)[0]
        return [((i, v + 1, s), text)]  # as if committed between the index and the texts

    monkeypatch.setattr(feed, "feature_texts", changed_meanwhile)
    body, tag = feed_cache.open_cases(session, me, store, unless_etag_in=[])
    assert (body, tag) == feed.open_cases_json_etag(session, me)
    assert store.known(feed.open_index(session, me).rows) == {}  # nothing kept from the race


def test_a_store_smaller_than_a_feature_keeps_none_and_still_answers(session, callers, new_case):
    new_case("dispatched")
    me = callers["grid_worker"].principal
    store = feed_cache.FeedFeatures(10)
    body, tag = feed_cache.open_cases(session, me, store, unless_etag_in=[])
    assert (body, tag) == feed.open_cases_json_etag(session, me)
    assert feed_cache.open_cases(session, me, store, unless_etag_in=[tag]) == (None, tag)
