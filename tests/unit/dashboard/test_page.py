"""The page through a test client: sign-in, the figures in Thai and English with their
tables and data attributes, the fragment the live script swaps in, and the static files."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.dashboard.api.session import COOKIE
from tests.support.dashboard import PageApp, page_app, sample_figures


@pytest.fixture
def made(tmp_path: Path) -> PageApp:
    return page_app(tmp_path)


@pytest.fixture
def client(made: PageApp) -> Iterator[TestClient]:
    with TestClient(made.app, base_url="http://dashboard") as client:
        yield client


def sign_in(client: TestClient, made: PageApp, role: str = "read") -> None:
    answer = client.post(
        "/login", data={"key": made.tokens[role], "next": "/"}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text


def cell(html: str, **attributes: str) -> str:
    """The text of the one table cell carrying these data attributes."""
    wanted = "".join(
        rf'(?=[^>]*\bdata-{name.replace("_", "-")}="{re.escape(value)}")'
        for name, value in attributes.items()
    )
    found = re.findall(rf"<td{wanted}[^>]*>(.*?)</td>", html, flags=re.S)
    assert len(found) == 1, f"{attributes}: {len(found)} cells"
    return str(found[0]).strip()


def test_the_page_without_a_session_sends_to_the_sign_in(client: TestClient) -> None:
    answer = client.get("/?programme=IEAT-2025", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2F%3Fprogramme%3DIEAT-2025"
    assert client.get("/fragment").status_code == 401
    assert client.get("/events/stream").status_code == 401


def test_sign_in_sets_an_http_only_strict_cookie_not_holding_the_key(
    client: TestClient, made: PageApp
) -> None:
    answer = client.post(
        "/login",
        data={"key": made.tokens["read"], "next": "/?year=2025"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/?year=2025"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert f"Max-Age={12 * 3600}" in cookie
    assert "Secure" not in cookie  # secure_cookies is off by default (plain-HTTP demo)
    assert made.tokens["read"] not in cookie
    assert client.get("/").status_code == 200


def test_secure_cookies_setting_marks_the_cookie_secure(tmp_path: Path) -> None:
    made = page_app(tmp_path, secure_cookies=True, session_hours=1)
    with TestClient(made.app, base_url="https://dashboard") as client:
        answer = client.post("/login", data={"key": made.tokens["read"]}, follow_redirects=False)
    assert "Secure" in answer.headers["set-cookie"]
    assert "Max-Age=3600" in answer.headers["set-cookie"]


@pytest.mark.parametrize("key", ["sbk_not-a-key", ""])
def test_a_wrong_key_gets_the_form_again_with_an_error(client: TestClient, key: str) -> None:
    answer = client.post(
        "/login", data={"key": key}, headers={"Accept-Language": "th"}, follow_redirects=False
    )
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers or COOKIE not in answer.headers["set-cookie"]
    assert 'id="login-error"' in answer.text
    assert 'action="/login"' in answer.text
    assert ("ไม่พบคีย์นี้" if key else "กรุณาใส่คีย์") in answer.text


def test_sign_in_does_not_redirect_off_the_site(client: TestClient, made: PageApp) -> None:
    answer = client.post(
        "/login",
        data={"key": made.tokens["read"], "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_sign_out_ends_the_session_on_the_server(client: TestClient, made: PageApp) -> None:
    sign_in(client, made)
    token = client.cookies[COOKIE]
    assert client.post("/logout", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, token)  # a copy of the old cookie does not get back in
    assert client.get("/", follow_redirects=False).status_code == 303


def test_a_forged_session_cookie_is_refused(client: TestClient) -> None:
    client.cookies.set(COOKIE, "made-up")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_the_english_page_shows_every_figure_with_its_table(
    client: TestClient, made: PageApp
) -> None:
    sign_in(client, made)
    html = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).text
    assert '<html lang="en">' in html
    for section in ("funnel", "targets", "time_to_credit", "lenders", "selection", "outcomes"):
        assert f'id="fig-{section}"' in html
        assert f'data-chart="{section}"' in html
        assert f'href="/api/figures/{section}.csv"' in html
    assert cell(html, figure="funnel", programme="IEAT-2025", stage="enrolled") == "1,223"
    assert cell(html, figure="funnel", programme="all", stage="completed") == "1,473"
    assert cell(html, figure="funnel", programme="IEAT-2025", stage="disbursed") == "0"
    assert (
        cell(
            html, figure="targets", programme="IEAT-2025", place_kind="programme", column="percent"
        )
        == "122.3%"
    )
    assert cell(html, figure="lenders", lender="BAAC", column="amount_approved") == "THB1,234,000"
    assert (
        cell(html, figure="time_to_credit", step="referral_to_decision", column="median_seconds")
        == "2.5 days"
    )
    assert cell(html, figure="drop_outs", programme="IEAT-2025", kind="failed-units") == "3"
    assert cell(html, figure="outcome_bands", village="340101", band="B", column="after") == "6"
    assert "Enrolled" in html and "Failed units" in html
    assert "2025" in html and "2568" not in html
    assert 'data-cap-state="at"' in html
    # Charts are drawn by the page's own script from the embedded figures.
    assert re.search(r'<script src="/static/plotly\.min\.js\?v=\w+" defer>', html)
    data = json.loads(
        re.search(
            r'<script type="application/json" id="figures-data">(.*?)</script>', html, re.S
        ).group(1)  # type: ignore[union-attr]
    )
    assert data["figures"]["events"] == 4567
    assert data["labels"]["stage.enrolled"] == "Enrolled"
    assert "cdn" not in html.lower()


def test_the_thai_page_has_thai_labels_buddhist_years_and_thai_amounts(
    client: TestClient, made: PageApp
) -> None:
    sign_in(client, made)
    html = client.get("/", headers={"Accept-Language": "th-TH,th;q=0.9"}).text
    assert '<html lang="th">' in html
    assert "ได้ที่นั่ง" in html  # enrolled
    assert "เส้นทางผู้เข้าร่วม" in html  # the funnel's heading
    assert "ไม่ผ่านหน่วยสมรรถนะ" in html  # failed units
    assert "Enrolled" not in html
    # The figures' date (1 March 2025, 17:30 in Bangkok) and the targets' year, in B.E.
    assert re.search(r'<time id="as-of"[^>]*>1 มี\.ค\. 2568 17:30 น\.</time>', html)
    assert '<td data-year="2025">2568</td>' in html
    assert cell(html, figure="lenders", lender="BAAC", column="amount_approved") == "฿1,234,000"
    assert (
        cell(html, figure="time_to_credit", step="referral_to_decision", column="median_seconds")
        == "2.5 วัน"
    )
    assert cell(html, figure="funnel", programme="IEAT-2025", stage="enrolled") == "1,223"


def test_the_switch_sets_the_language_and_remembers_it(client: TestClient, made: PageApp) -> None:
    sign_in(client, made)
    english = client.get("/?programme=IEAT-2025", headers={"Accept-Language": "en"}).text
    assert 'id="lang-th" href="/?programme=IEAT-2025&amp;lang=th"' in english
    switched = client.get("/?programme=IEAT-2025&lang=th", headers={"Accept-Language": "en"})
    assert '<html lang="th">' in switched.text
    assert "lang=th" in switched.headers["set-cookie"]
    later = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="th">' in later.text


def test_filters_reach_the_figures_and_the_csv_links(client: TestClient, made: PageApp) -> None:
    sign_in(client, made)
    html = client.get("/?programme=IEAT-2025&year=2025&province=&lender=BAAC").text
    assert made.figures.calls[-1].model_dump(exclude_none=True) == {
        "programme": "IEAT-2025",
        "year": 2025,
        "lender": "BAAC",
    }
    assert (
        'href="/api/figures/funnel.csv?programme=IEAT-2025&amp;year=2025&amp;lender=BAAC"' in html
    )
    assert '<option value="2025" selected>' in html


def test_a_bad_filter_is_a_problem_not_a_crash(client: TestClient, made: PageApp) -> None:
    sign_in(client, made)
    answer = client.get("/fragment?year=soon")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "year"


def test_the_fragment_is_the_figures_section_with_the_live_version(
    client: TestClient, made: PageApp
) -> None:
    sign_in(client, made)
    first = client.get("/fragment").text
    assert first.lstrip().startswith('<main id="figures" data-version="0"')
    assert "<html" not in first and 'id="filters"' not in first
    made.changes.bump()
    made.changes.bump()
    made.figures.figures = sample_figures(enrolled=1300)
    second = client.get("/fragment?lang=en").text
    assert 'data-version="2"' in second
    assert cell(second, figure="funnel", programme="IEAT-2025", stage="enrolled") == "1,300"


def test_names_from_events_cannot_break_out_of_the_embedded_json(
    client: TestClient, made: PageApp
) -> None:
    figures = sample_figures()
    figures.funnel.programmes[0].programme_name = "</script><script>alert(1)</script>"
    made.figures.figures = figures
    sign_in(client, made)
    html = client.get("/").text
    assert "<script>alert(1)" not in html
    assert "\\u003c/script\\u003e" in html


def test_the_page_allows_scripts_from_itself_only(client: TestClient, made: PageApp) -> None:
    sign_in(client, made)
    policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-eval" not in policy


def test_plotly_is_served_by_the_service_with_a_long_cache(client: TestClient) -> None:
    plain = client.get("/static/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert len(plain.content) > 1_000_000 and b"plotly" in plain.content[:2000].lower()
    assert "immutable" not in plain.headers["cache-control"]
    version = plain.headers["etag"].strip('"')
    pinned = client.get(f"/static/plotly.min.js?v={version}", headers={"Accept-Encoding": "gzip"})
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert pinned.headers["content-encoding"] == "gzip"
    assert pinned.content == plain.content  # the client undid the gzip
    again = client.get("/static/plotly.min.js", headers={"If-None-Match": f'"{version}"'})
    assert again.status_code == 304


def test_the_page_script_and_styles_are_served_and_unknown_files_are_not(
    client: TestClient,
) -> None:
    script = client.get("/static/dashboard.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert b"EventSource" in script.content and b"/fragment" in script.content
    assert client.get("/static/dashboard.css").headers["content-type"].startswith("text/css")
    missing = client.get("/static/../settings.py")
    assert missing.status_code == 404
    assert client.get("/static/nothing.js").status_code == 404
