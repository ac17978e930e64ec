#!/usr/bin/python3
"""Throwaway certificates for the TLS tests, made with the `openssl` CLI
in a temporary directory (EC P-256 keys: fast to make, small to send).

    certs = make(tmpdir)            # a dict of file paths, see below
    python3 certs.py DIR            # the same from the shell (or Node):
                                    # prints the dict as one JSON line

What is made:
  ca.pem                a CA (basicConstraints CA:TRUE, keyCertSign)
  server.pem/.key       signed by the CA for DNS:localhost, IP:127.0.0.1
                        and IP:::1 (serverAuth)
  wrong.pem/.key        signed by the CA, but for DNS:wrong.example only
  selfsigned.pem/.key   self-signed, for localhost/127.0.0.1/::1 (no CA)
  server_spki           base64 SHA-256 of server.pem's public key (what
                        Chromium's --ignore-certificate-errors-spki-list
                        takes), also for selfsigned as selfsigned_spki
Each run makes new keys: nothing secret is kept in the tree."""

import base64
import hashlib
import json
import os
import subprocess
import sys

DAYS = "2"  # a test run never takes longer; a stale file fails fast


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def _key(name, cwd):
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", name + ".key", cwd=cwd)
    os.chmod(os.path.join(cwd, name + ".key"), 0o600)


def _leaf_ext(cwd, name, san):
    path = os.path.join(cwd, name + ".ext")
    with open(path, "w") as f:
        f.write("basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                f"subjectAltName={san}\n")
    return path


def _signed(name, cn, san, cwd):
    """A leaf key and certificate signed by ca.pem/ca.key."""
    _key(name, cwd)
    _openssl("req", "-new", "-key", name + ".key", "-subj", f"/CN={cn}", "-out", name + ".csr", cwd=cwd)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", DAYS, "-sha256", "-extfile", _leaf_ext(cwd, name, san),
             "-out", name + ".pem", cwd=cwd)


def spki_sha256(pem_path):
    """base64(SHA-256(SubjectPublicKeyInfo DER)) of a certificate."""
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-noout", "-pubkey"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


GOOD_SAN = "DNS:localhost,IP:127.0.0.1,IP:::1"


def make(directory):
    """Writes the files into directory (which must exist); returns the
    dict of absolute paths (and the SPKI hashes)."""
    d = os.path.abspath(directory)
    _key("ca", d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=cws test CA", "-days", DAYS,
             "-sha256", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", "ca.pem", cwd=d)
    _signed("server", "localhost", GOOD_SAN, d)
    _signed("wrong", "wrong.example", "DNS:wrong.example", d)
    _key("selfsigned", d)
    _openssl("req", "-x509", "-new", "-key", "selfsigned.key", "-subj", "/CN=localhost", "-days", DAYS,
             "-sha256", "-addext", f"subjectAltName={GOOD_SAN}", "-out", "selfsigned.pem", cwd=d)
    out = {"dir": d, "ca": os.path.join(d, "ca.pem")}
    for name in ("server", "wrong", "selfsigned"):
        out[name + "_cert"] = os.path.join(d, name + ".pem")
        out[name + "_key"] = os.path.join(d, name + ".key")
    out["server_spki"] = spki_sha256(out["server_cert"])
    out["selfsigned_spki"] = spki_sha256(out["selfsigned_cert"])
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: certs.py DIR")
    print(json.dumps(make(sys.argv[1])))
