"""The page's static files, served by the service itself (no CDN: the page works offline):
its own CSS and script, and the Plotly bundle the `plotly` package ships."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from importlib.resources.abc import Traversable

from fastapi import Request
from fastapi.responses import Response

_OWN = resources.files("services.dashboard") / "static"
# plotly.js, minified, as the Python package bundles it for offline use.
_PLOTLY = resources.files("plotly") / "package_data" / "plotly.min.js"
# A URL carrying the content's hash never changes meaning, so browsers may keep it a year.
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=3600"


@dataclass
class Asset:
    name: str
    source: Traversable
    media_type: str
    _gzipped: bytes | None = field(default=None, repr=False)

    @cached_property
    def body(self) -> bytes:
        return self.source.read_bytes()

    @cached_property
    def version(self) -> str:
        return hashlib.sha256(self.body).hexdigest()[:12]

    @property
    def url(self) -> str:
        return f"/static/{self.name}?v={self.version}"

    def gzipped(self) -> bytes:
        # Compressed once, on first request (plotly.min.js: 4.6 MB, about a third gzipped).
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self._gzipped

    def respond(self, request: Request) -> Response:
        etag = f'"{self.version}"'
        immutable = request.query_params.get("v") == self.version
        headers = {
            "Cache-Control": IMMUTABLE if immutable else REVALIDATE,
            "ETag": etag,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gzipped()
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=self.media_type, headers=headers)


ASSETS: dict[str, Asset] = {
    asset.name: asset
    for asset in (
        Asset("plotly.min.js", _PLOTLY, "text/javascript; charset=utf-8"),
        Asset("dashboard.js", _OWN / "dashboard.js", "text/javascript; charset=utf-8"),
        Asset("dashboard.css", _OWN / "dashboard.css", "text/css; charset=utf-8"),
    )
}
