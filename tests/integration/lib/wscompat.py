"""One face for the two APIs of Python `websockets`: the asyncio API of
release 13+ (websockets.asyncio) when it is there, else the legacy API
(Debian 12 ships 10.4). Tests call only what is here."""

try:
    from websockets.asyncio.client import connect as _connect
    from websockets.asyncio.server import serve as _serve
    NEW_API = True
except ImportError:  # websockets < 13
    from websockets import connect as _connect, serve as _serve
    NEW_API = False

from websockets.exceptions import ConnectionClosed  # noqa: F401 (re-exported)


def connect(url, headers=None, **kw):
    """A client with no size limit, no keepalive pings and no
    compression offer, so the tests see exactly the frames they send."""
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("compression", None)
    if headers:
        kw["additional_headers" if NEW_API else "extra_headers"] = headers
    return _connect(url, **kw)


def serve(handler, **kw):
    """A loopback server on an ephemeral port; see port()."""
    kw.setdefault("max_size", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("compression", None)
    return _serve(handler, "127.0.0.1", 0, **kw)


def port(server):
    return server.sockets[0].getsockname()[1]


def request_headers(ws):
    return ws.request.headers if NEW_API else ws.request_headers


def request_path(ws):
    return ws.request.path if NEW_API else ws.path
