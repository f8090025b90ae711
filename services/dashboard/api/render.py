"""Rendering the page's templates in the reader's language (services/dashboard/templates)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from services.dashboard import i18n
from services.dashboard.api.assets import ASSETS

LANG_COOKIE = "lang"
_YEAR = 365 * 24 * 3600
# Scripts and styles from this service only: the page works offline and nothing is pulled
# from elsewhere. Plotly sets inline styles on what it draws, hence style-src 'unsafe-inline'.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)

templates = Environment(
    loader=PackageLoader("services.dashboard", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a misspelt name in a template fails the test, not the page
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_lang(request: Request) -> i18n.Lang:
    return i18n.choose(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def data_attributes(**values: object) -> Markup:
    """`data-*` attributes for the numbers a test or script reads: `programme_code="X"` gives
    `data-programme-code="X"`; values are the raw numbers and codes, not their display."""
    return Markup(" ").join(
        Markup('data-{}="{}"').format(name.replace("_", "-"), escape(str(value)))
        for name, value in values.items()
    )


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    lang = page_lang(request)

    def t(key: str) -> str:
        return i18n.text(lang, key)

    def lang_query(other: str) -> str:
        """This page's query with the language switched to `other`."""
        kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return urlencode([*kept, ("lang", other)])

    html = templates.get_template(template).render(
        lang=lang,
        langs=i18n.LANGS,
        t=t,
        f=i18n.Formats(lang),
        assets=ASSETS,
        data=data_attributes,
        lang_query=lang_query,
        path=request.url.path,
        **context,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"  # figures of signed-in people only
    response.headers["Vary"] = "Cookie, Accept-Language"
    if i18n.as_lang(request.query_params.get("lang")) == lang:
        # The switch was used: remember the choice for the next visits.
        response.set_cookie(
            LANG_COOKIE, lang, max_age=_YEAR, path="/", httponly=True, samesite="lax"
        )
    return response
