"""The platform table: ids, aliases, units and limits."""

from __future__ import annotations

import pytest

from generation_service.brand import (
    UnknownPlatformError,
    known_platforms,
    platform_policy,
)
from generation_service.brand.counting import UNITS

REQUIRED_IDS = {
    "x", "threads", "linkedin", "facebook", "instagram", "tiktok", "youtube",
    "youtube_title", "youtube_description", "pinterest", "google_ads",
    "google_ads_headline", "google_ads_description", "meta_ads", "email", "sms",
    "blog",
}  # fmt: skip


def test_every_platform_the_service_accepts_has_a_policy() -> None:
    assert set(known_platforms()) >= REQUIRED_IDS
    for platform in known_platforms():
        assert platform_policy(platform).unit.id in UNITS


@pytest.mark.parametrize(
    ("platform", "canonical", "unit", "hard_limit"),
    [
        ("x", "x", "x_weighted", 280),
        ("threads", "threads", "emoji_utf8", 500),
        ("linkedin", "linkedin", "utf16_units", 3000),
        ("instagram", "instagram", "utf16_units", 2200),
        ("youtube", "youtube_description", "utf8_bytes", 5000),
        ("youtube_title", "youtube_title", "codepoints", 100),
        ("google_ads", "google_ads_description", "double_width", 90),
        ("google_ads_headline", "google_ads_headline", "double_width", 30),
        ("pinterest", "pinterest_description", "codepoints", 500),
        ("sms", "sms", "sms_segments", 10),
        ("blog", "blog", "graphemes", 0),
    ],
)
def test_platform_policies_carry_their_own_unit(
    platform: str, canonical: str, unit: str, hard_limit: int
) -> None:
    policy = platform_policy(platform)

    assert (policy.platform, policy.unit.id, policy.hard_limit) == (
        canonical,
        unit,
        hard_limit,
    )


def test_instagram_caps_hashtags_at_five() -> None:
    assert platform_policy("instagram").max_hashtags == 5


def test_an_unknown_platform_raises_and_lists_the_known_ones() -> None:
    with pytest.raises(UnknownPlatformError) as caught:
        platform_policy("myspace")

    assert caught.value.platform == "myspace"
    assert "known: blog, email" in str(caught.value)
