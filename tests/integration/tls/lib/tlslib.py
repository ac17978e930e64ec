"""Shared by the Python TLS tests: the import path to the integration
helpers (tests/integration/lib), one set of throwaway certificates per
test program (certs.py; removed at exit), and ssl contexts that trust
exactly the throwaway CA."""

import atexit
import os
import shutil
import ssl
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "lib"))
sys.path.insert(0, HERE)
import certs as _certs  # noqa: E402

_made = {}


def certs():
    """The certificate dict of certs.make, made on first use."""
    if not _made:
        d = tempfile.mkdtemp(prefix="cws-tls-")
        atexit.register(shutil.rmtree, d, True)
        _made.update(_certs.make(d))
    return _made


def server_args(which="server"):
    """--tls-cert/--tls-key for the cws servers: "server" (CA-signed,
    localhost/127.0.0.1/::1), "wrong" (CA-signed for wrong.example) or
    "selfsigned"."""
    c = certs()
    return ["--tls-cert", c[which + "_cert"], "--tls-key", c[which + "_key"]]


def client_context(ca=True, alpn=("http/1.1",)):
    """A verifying client context (host name checked) that trusts only
    the throwaway CA (ca=False: trusts nothing), offering ALPN alpn."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca:
        ctx.load_verify_locations(certs()["ca"])
    if alpn:
        ctx.set_alpn_protocols(list(alpn))
    return ctx


def server_context(which="server", sni=None):
    """A server context with one of the certificates (see server_args)
    that agrees to ALPN http/1.1; each client's SNI host name (None if it
    sent none) is appended to the list sni."""
    c = certs()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(c[which + "_cert"], c[which + "_key"])
    ctx.set_alpn_protocols(["http/1.1"])
    if sni is not None:
        ctx.sni_callback = lambda _obj, name, _ctx: sni.append(name)
    return ctx
