"""The page's words and formats: Thai and English from one catalogue, B.E. years in Thai."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.dashboard import i18n
from services.dashboard.schemas import STAGES, STEPS


def test_every_stage_step_and_drop_kind_has_both_languages() -> None:
    keys = [
        *(f"stage.{s}" for s in STAGES),
        *(f"step.{s}" for s in STEPS),
        *(f"drop.{k}" for k in i18n.DROP_KINDS),
    ]
    for key in keys:
        english, thai = i18n.text("en", key), i18n.text("th", key)
        assert english and thai and english != thai, key


def test_thai_labels_are_in_thai_script() -> None:
    thai = i18n.text("th", "stage.enrolled")
    assert any("\u0e00" <= char <= "\u0e7f" for char in thai)
    assert not any("\u0e00" <= char <= "\u0e7f" for char in i18n.text("en", "stage.enrolled"))


@pytest.mark.parametrize(
    ("query", "cookie", "header", "chosen"),
    [
        (None, None, "th-TH,th;q=0.9,en;q=0.8", "th"),
        (None, None, "fr-FR, en;q=0.5, th;q=0.4", "en"),
        (None, None, "en;q=0.2, th;q=0.9", "th"),
        (None, None, "de", "en"),  # none of ours: the default
        (None, "th", "en", "th"),  # the remembered switch beats the browser
        ("en", "th", "th", "en"),  # the switch itself beats both
        ("xx", None, "th", "th"),  # an unknown ?lang= is ignored
    ],
)
def test_language_is_chosen_switch_then_cookie_then_browser(
    query: str | None, cookie: str | None, header: str | None, chosen: str
) -> None:
    assert i18n.choose(query, cookie, header) == chosen


def test_years_are_buddhist_era_in_thai_only() -> None:
    assert i18n.Formats("th").year(2025) == "2568"
    assert i18n.Formats("en").year(2025) == "2025"


def test_dates_in_thai_carry_the_buddhist_era_year_in_bangkok_time() -> None:
    # 20:00 UTC on 31 December 2025 is already 1 January 2026 in Bangkok: B.E. 2569.
    moment = datetime(2025, 12, 31, 20, 0, tzinfo=UTC)
    thai = i18n.Formats("th").datetime(moment)
    english = i18n.Formats("en").datetime(moment)
    assert "2569" in thai and "ม.ค." in thai and "03:00" in thai
    assert "2026" not in thai
    assert "2026" in english and "Jan" in english and "2569" not in english


def test_numbers_amounts_and_durations_follow_the_locale() -> None:
    en, th = i18n.Formats("en"), i18n.Formats("th")
    # CLDR groups digits the same way in both; amounts and units differ.
    assert en.number(1223) == th.number(1223) == "1,223"
    assert en.percent(122.3) == "122.3%"
    assert en.money(1_234_000) == "THB1,234,000"
    assert th.money(1_234_000) == "฿1,234,000"
    assert en.duration(2.5 * 86400) == "2.5 days"
    assert th.duration(2.5 * 86400) == "2.5 วัน"
    assert en.duration(40) == "40 sec"
    assert en.duration(None) == "–"


def test_year_fields_inside_quotes_stay_literal() -> None:
    assert i18n._with_year("d MMM y 'y' yyyy", 2568) == "d MMM '2568' 'y' '2568'"
