#!/usr/bin/python3
"""cws-client's certificate checks (verification on by default, host name
checked, SNI sent), against Python TLS servers so the verdict is the
client's alone: a self-signed certificate is refused without --cafile and
the reason is named; the CA-signed one is refused without --cafile (the
system store does not know our CA) and accepted with it, by 127.0.0.1,
localhost and [::1] (cws-echo --host ::1); a certificate for another
name is refused even with --cafile; --insecure accepts both. A refused
server never sees a WebSocket request."""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import tlslib  # noqa: E402  (puts tests/integration/lib on the path)
from echo_peers import CwsEchoPeer, PythonPeer, run_client  # noqa: E402
from proc import run_cases  # noqa: E402

CERTS = tlslib.certs()
CA = ["--cafile", CERTS["ca"]]


def localhost(url):
    return url.replace("127.0.0.1", "localhost")


def assert_refused(status, out, err, *reasons):
    """A refusal: non-zero exit, nothing echoed, stderr saying
    "certificate verify failed" (loosely) and one of the reasons."""
    assert status != 0, f"exit 0: the certificate was accepted ({err!r})"
    assert out == b"", out
    low = err.lower()
    assert "certificate" in low and "verif" in low, f"no 'certificate verify' in {err!r}"
    assert any(re.search(r, low) for r in reasons), f"none of {reasons} in {err!r}"


async def test_self_signed_refused_without_cafile():
    async with PythonPeer(ssl=tlslib.server_context("selfsigned")) as peer:
        for url in (peer.url, localhost(peer.url)):
            status, out, err = await run_client([url], b"x\n")
            assert_refused(status, out, err, r"self[- ]signed")
        assert peer.events == [], f"the server saw {peer.events}"


async def test_ca_signed_refused_without_cafile():
    async with PythonPeer(ssl=tlslib.server_context()) as peer:
        status, out, err = await run_client([peer.url], b"x\n")
        assert_refused(status, out, err, r"unable to get local issuer", r"issuer")
        assert peer.events == [], f"the server saw {peer.events}"


async def test_self_signed_refused_with_another_cafile():
    # --cafile trusts that CA, not whatever the server shows.
    async with PythonPeer(ssl=tlslib.server_context("selfsigned")) as peer:
        status, out, err = await run_client([*CA, peer.url], b"x\n")
        assert_refused(status, out, err, r"self[- ]signed")


async def test_ca_signed_accepted_with_cafile_by_ip_and_name():
    sni = []
    async with PythonPeer(ssl=tlslib.server_context(sni=sni)) as peer:
        for url in (peer.url, localhost(peer.url)):
            status, out, err = await run_client([*CA, url + "/v"], b"ok\n", expect=b"ok\n")
            assert status == 0 and out == b"ok\n", (url, status, out, err)
        # SNI carries the host name; never an IP literal (RFC 6066 §3).
        assert sni == [None, "localhost"], f"SNI seen by the server: {sni}"


async def test_ca_signed_accepted_over_ipv6():
    async with CwsEchoPeer(args=["--host", "::1", *tlslib.server_args()]) as peer:
        assert peer.url.startswith("wss://[::1]:"), peer.url
        status, out, err = await run_client([*CA, peer.url], b"six\n", expect=b"six\n")
        assert status == 0 and out == b"six\n", (status, out, err)


async def test_wrong_name_refused_even_with_cafile():
    async with PythonPeer(ssl=tlslib.server_context("wrong")) as peer:
        status, out, err = await run_client([*CA, localhost(peer.url)], b"x\n")
        assert_refused(status, out, err, r"hostname mismatch", r"host ?name")
        status, out, err = await run_client([*CA, peer.url], b"x\n")
        assert_refused(status, out, err, r"mismatch")  # an IP address, not in the SAN
        assert peer.events == [], f"the server saw {peer.events}"


async def test_insecure_accepts_self_signed_and_wrong_name():
    for which in ("selfsigned", "wrong"):
        async with PythonPeer(ssl=tlslib.server_context(which)) as peer:
            status, out, err = await run_client(["--insecure", localhost(peer.url)], b"in\n", expect=b"in\n")
            assert status == 0 and out == b"in\n", (which, status, out, err)
            assert (await peer.wait_event("close"))["code"] == 1000


async def test_missing_cafile_is_an_error():
    async with PythonPeer(ssl=tlslib.server_context()) as peer:
        missing = os.path.join(CERTS["dir"], "no-such-ca.pem")
        status, out, err = await run_client(["--cafile", missing, peer.url], b"x\n")
        assert status != 0 and out == b"", (status, out, err)
        assert peer.events == [], f"the server saw {peer.events}"


if __name__ == "__main__":
    sys.exit(run_cases([v for k, v in list(globals().items()) if k.startswith("test_")]))
