"""Security headers on every response the daemon's web server sends, whatever route made it.

The archive shows what strangers wrote, so the browser is told to run nothing but our own stylesheet:
no script at all, no inline style, no framing by another site (clickjacking), no MIME sniffing, and
no full URL (with a thread id in it) leaked to other sites through Referer. A route that sets a
stricter policy of its own (the file links' sandbox) keeps it.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
HSTS = "max-age=31536000"


def install(app: web.Application, *, https: bool) -> None:
    """Add the headers to every response of ``app``, errors and redirects included."""

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        policy = response.headers["Content-Security-Policy"]
        if "frame-ancestors" not in policy:
            response.headers["Content-Security-Policy"] = f"{policy}; frame-ancestors 'none'"
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)

    app.on_response_prepare.append(add_headers)
