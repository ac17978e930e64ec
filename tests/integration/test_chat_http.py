#!/usr/bin/env python3
"""cws-chat's web server: the page and its files with the right
Content-Type and security headers (CSP with frame-ancestors), 404 for
what is missing, no way out of the web root (dot
segments, percent-encoding, absolute paths, symlinks), 405, 426 on a
plain GET of /ws, 404 for an upgrade elsewhere, 505 for an HTTP version
other than 1.0 and 1.1."""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from chatlib import WEB, ChatServer, check, http_get, main  # noqa: E402
import wscompat  # noqa: E402

SECRET = b"top secret outside the web root"


def make_site(tmp):
    """A copy of the web root inside tmp, with traps: a secret file beside
    it and symlinks pointing out of it (and one pointing inside)."""
    web = os.path.join(tmp, "web")
    shutil.copytree(WEB, web)
    with open(os.path.join(tmp, "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.mkdir(os.path.join(tmp, "outside"))
    with open(os.path.join(tmp, "outside", "secret.txt"), "wb") as f:
        f.write(SECRET)
    os.symlink(os.path.join(tmp, "secret.txt"), os.path.join(web, "escape.txt"))
    os.symlink("../secret.txt", os.path.join(web, "relative.txt"))
    os.symlink(os.path.join(tmp, "outside"), os.path.join(web, "dirlink"))
    os.symlink("style.css", os.path.join(web, "alias.css"))
    os.mkdir(os.path.join(web, "sub"))
    with open(os.path.join(web, "sub", "note.txt"), "wb") as f:
        f.write(b"inside")
    return web


async def files_and_content_types():
    srv = ChatServer()
    srv.web = make_site(srv.tmp)
    srv.start()
    try:
        with open(os.path.join(WEB, "index.html"), "rb") as f:
            index = f.read()
        for path, ctype in (("/", "text/html"), ("/index.html", "text/html"), ("/app.js", "text/javascript"),
                            ("/style.css", "text/css"), ("/sub/note.txt", "text/plain"), ("/alias.css", "text/css")):
            status, headers, body = http_get(srv.port, path)
            check(status == 200, f"{path}: {status}")
            check(headers.get("content-type", "").startswith(ctype), f"{path}: {headers.get('content-type')}")
            check(int(headers["content-length"]) == len(body), f"{path}: Content-Length")
            check(headers.get("x-content-type-options") == "nosniff", f"{path}: nosniff")
            csp = [d.strip() for d in headers.get("content-security-policy", "").split(";")]
            # Clickjacking: no other site may frame the page.
            check("frame-ancestors 'none'" in csp, f"{path}: CSP {csp}")
            check(headers.get("x-frame-options") == "DENY", f"{path}: X-Frame-Options")
            for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'none'"):
                check(directive in csp, f"{path}: CSP lacks {directive}: {csp}")
        check(http_get(srv.port, "/")[2] == index, "/ is index.html")
        status, headers, body = http_get(srv.port, "/", method="HEAD")
        check(status == 200 and body == b"" and int(headers["content-length"]) == len(index), "HEAD /")
        for path in ("/missing.html", "/sub/missing", "/etc/passwd", "/sub/", "/index.html/x"):
            status, _, _ = http_get(srv.port, path)
            check(status == 404, f"{path}: {status}")
        status, headers, _ = http_get(srv.port, "/", method="POST")
        check(status == 405 and "GET" in headers.get("allow", ""), f"POST: {status} {headers}")
        status, _, _ = http_get(srv.port, "/ws")
        check(status == 426, f"plain GET /ws: {status}")
    finally:
        srv.cleanup()


async def no_way_out_of_the_web_root():
    srv = ChatServer()
    srv.web = make_site(srv.tmp)
    srv.start()
    try:
        targets = [
            "/../secret.txt", "/sub/../../secret.txt", "/./index.html", "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
            "//etc/passwd", "/..\\secret.txt", "/.%2e/secret.txt", "/escape.txt", "/relative.txt",
            "/dirlink/secret.txt", "/dirlink/../secret.txt", "/%00", "/index.html%00.txt",
            "http://127.0.0.1/../secret.txt", "/.git/config", "/sub/.hidden",
        ]
        for target in targets:
            raw = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            status, _, body = http_get(srv.port, None, raw=raw)
            check(400 <= status < 500, f"{target}: {status}")
            check(SECRET not in body and b"root:" not in body, f"{target}: leaked {body[:60]!r}")
    finally:
        srv.cleanup()


async def other_http_versions_are_505():
    srv = ChatServer().start()
    try:
        raw = "GET / HTTP/1.0\r\n\r\n"
        status, _, _ = http_get(srv.port, None, raw=raw)
        check(status == 200, f"HTTP/1.0: {status}")
        for version in ("HTTP/9.9", "HTTP/2.0", "HTTP/1.2", "HTTP/0.9"):
            for path in ("/", "/ws"):
                raw = f"GET {path} {version}\r\nHost: 127.0.0.1\r\n\r\n"
                status, _, body = http_get(srv.port, None, raw=raw)
                check(status == 505, f"{version} {path}: {status}")
    finally:
        srv.cleanup()


async def upgrade_elsewhere_is_404():
    srv = ChatServer().start()
    try:
        try:
            ws = await wscompat.connect(f"ws://127.0.0.1:{srv.port}/other")
            await ws.close()
            raise AssertionError("upgrade on /other accepted")
        except AssertionError:
            raise
        except Exception as e:  # noqa: BLE001 -- the library's "bad status" exception
            check("404" in str(e), f"upgrade on /other: {e!r}")
    finally:
        srv.cleanup()


main([files_and_content_types, no_way_out_of_the_web_root, other_http_versions_are_505, upgrade_elsewhere_is_404])
