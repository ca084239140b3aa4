"""TLS on both endpoints (issue 5): `floe serve --tls-cert/--tls-key
[--tls-policy] [--require-tls]` against real clients (psql and psycopg with
sslmode=verify-full, Python's ssl module, curl), each policy's versions,
and a certificate reloaded on SIGHUP without dropping open connections."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import socket
import time

import psycopg
import pytest
import trustme

from floe_helpers import http_request


@pytest.fixture
def ca():
    return trustme.CA()


def write_cert(ca, tmp_path, name="server"):
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert_path = tmp_path / f"{name}.pem"
    key_path = tmp_path / f"{name}.key"
    cert.private_key_pem.write_to_path(key_path)
    cert.cert_chain_pems[0].write_to_path(cert_path)
    for extra in cert.cert_chain_pems[1:]:
        with open(cert_path, "ab") as f:
            f.write(extra.bytes())
    return cert_path, key_path


def tls_server(floe_factory, ca, tmp_path, policy=None, require=False):
    cert_path, key_path = write_cert(ca, tmp_path)
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(ca_path)
    args = ["--tls-cert", str(cert_path), "--tls-key", str(key_path)]
    if policy:
        args += ["--tls-policy", policy]
    if require:
        args.append("--require-tls")
    context = ssl.create_default_context(cafile=str(ca_path))
    srv = floe_factory(extra_args=args, https_context=context)
    return srv, ca_path, cert_path, key_path


def verify_full(srv, ca_path) -> str:
    return (f"host=localhost port={srv.pg_port} user=floe dbname=floe "
            f"sslmode=verify-full sslrootcert={ca_path}")


def handshake(port: int, ca_path, version: ssl.TLSVersion | None = None,
              ciphers: str | None = None):
    """A TLS handshake with the HTTPS endpoint; (protocol, cipher) or the error."""
    ctx = ssl.create_default_context(cafile=str(ca_path))
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.version(), tls.cipher()[0], tls.getpeercert(binary_form=True)


def test_issue5_psql_psycopg_and_https_verify_the_server(floe_factory, ca, tmp_path):
    srv, ca_path, _, _ = tls_server(floe_factory, ca, tmp_path)
    out = subprocess.run(["psql", verify_full(srv, ca_path), "-Atc", "SELECT 40 + 2"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "42"
    info = subprocess.run(["psql", verify_full(srv, ca_path), "-c", r"\conninfo"],
                          capture_output=True, text=True, timeout=60)
    assert "SSL connection (protocol: TLSv1.3" in info.stdout, info.stdout + info.stderr
    with psycopg.connect(verify_full(srv, ca_path), autocommit=True) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT 1").fetchone() == (1,)
    # Plain connections still work unless TLS is required.
    with psycopg.connect(f"host=127.0.0.1 port={srv.pg_port} user=floe dbname=floe "
                         "sslmode=disable", autocommit=True) as conn:
        assert not conn.pgconn.ssl_in_use
    # A client that does not trust the CA is refused.
    other = trustme.CA()
    other_path = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(other_path)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(verify_full(srv, other_path), connect_timeout=10)

    resp = http_request("POST", f"{srv.http_url}/v1/sql", "SELECT 7 AS n",
                        context=srv.https_context)
    assert resp.status == 200, resp.body
    assert resp.json()["rows"] == [[7]]
    curl = subprocess.run(["curl", "-sS", "--cacert", str(ca_path), f"{srv.http_url}/healthz"],
                          capture_output=True, text=True, timeout=60)
    assert curl.returncode == 0, curl.stderr
    assert '"ok"' in curl.stdout
    # Plain HTTP is not served on the HTTPS port.
    with pytest.raises(Exception):
        http_request("GET", f"http://127.0.0.1:{srv.http_port}/healthz", timeout=5)


def test_issue5_tls12_pfs_offers_tls13_and_ecdhe_aead_tls12_only(floe_factory, ca, tmp_path):
    srv, ca_path, _, _ = tls_server(floe_factory, ca, tmp_path)
    assert handshake(srv.http_port, ca_path)[0] == "TLSv1.3"
    version, cipher, _ = handshake(srv.http_port, ca_path, ssl.TLSVersion.TLSv1_2)
    assert version == "TLSv1.2"
    assert cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA20" in cipher), cipher
    # Neither RSA key exchange nor CBC is accepted.
    for ciphers in ["AES128-GCM-SHA256:AES256-GCM-SHA384", "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384"]:
        with pytest.raises(ssl.SSLError):
            handshake(srv.http_port, ca_path, ssl.TLSVersion.TLSv1_2, ciphers)


def test_issue5_tls13_policy_refuses_tls12(floe_factory, ca, tmp_path):
    srv, ca_path, _, _ = tls_server(floe_factory, ca, tmp_path, policy="tls13")
    assert handshake(srv.http_port, ca_path)[0] == "TLSv1.3"
    with pytest.raises(ssl.SSLError):
        handshake(srv.http_port, ca_path, ssl.TLSVersion.TLSv1_2)
    with psycopg.connect(verify_full(srv, ca_path) + " ssl_max_protocol_version=TLSv1.3",
                         autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(verify_full(srv, ca_path) + " ssl_max_protocol_version=TLSv1.2",
                        connect_timeout=10)


def test_issue5_certificate_reloads_on_sighup_and_file_change_keeping_connections(floe_factory, ca, tmp_path):
    srv, ca_path, cert_path, key_path = tls_server(floe_factory, ca, tmp_path)
    first = handshake(srv.http_port, ca_path)[2]
    conn = psycopg.connect(verify_full(srv, ca_path), autocommit=True)
    # A broken certificate is refused and the old one stays in use.
    cert_path.write_text("garbage\n")
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert handshake(srv.http_port, ca_path)[2] == first
    assert "previous one stays in use" in srv.stderr_text() + srv.stdout_text()
    # A new certificate is used by new handshakes; the open connection lives on.
    write_cert(ca, tmp_path)
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while handshake(srv.http_port, ca_path)[2] == first:
        assert time.monotonic() < deadline, "the new certificate was not picked up"
        time.sleep(0.2)
    assert conn.execute("SELECT 5").fetchone() == (5,)
    # Replacing the files is enough, without a signal.
    second = handshake(srv.http_port, ca_path)[2]
    write_cert(ca, tmp_path)
    deadline = time.monotonic() + 15
    while handshake(srv.http_port, ca_path)[2] == second:
        assert time.monotonic() < deadline, "a changed certificate file was not picked up"
        time.sleep(0.2)
    assert conn.execute("SELECT 6").fetchone() == (6,)
    conn.close()


def plaintext_startup_error(port: int) -> dict[str, str]:
    """Sends a plaintext StartupMessage; the fields of the ErrorResponse."""
    params = b"user\0floe\0database\0floe\0\0"
    body = (196608).to_bytes(4, "big") + params
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall((len(body) + 4).to_bytes(4, "big") + body)
        data = b""
        while len(data) < 5 or len(data) < 1 + int.from_bytes(data[1:5], "big"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data[:1] == b"E", data
    fields = {}
    for part in data[5:].split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode()
    return fields


def test_issue5_require_tls_refuses_plaintext_clients(floe_factory, ca, tmp_path):
    srv, ca_path, _, _ = tls_server(floe_factory, ca, tmp_path, require=True)
    with pytest.raises(psycopg.OperationalError) as refused:
        psycopg.connect(f"host=127.0.0.1 port={srv.pg_port} user=floe dbname=floe "
                        "sslmode=disable", connect_timeout=10)
    assert "requires TLS" in str(refused.value)
    # On the wire: an ErrorResponse with severity FATAL and SQLSTATE 28000.
    fields = plaintext_startup_error(srv.pg_port)
    assert fields.get("S") == "FATAL" and fields.get("C") == "28000", fields
    with psycopg.connect(verify_full(srv, ca_path), autocommit=True) as conn:
        assert conn.execute("SELECT 3").fetchone() == (3,)
    out = subprocess.run(["psql", f"host=127.0.0.1 port={srv.pg_port} user=floe dbname=floe "
                          "sslmode=disable", "-v", "VERBOSITY=verbose", "-c", "SELECT 1"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PGOPTIONS": ""})
    assert out.returncode != 0
    assert "requires TLS" in out.stderr


def test_issue5_bad_tls_settings_are_refused_at_start(floe_bin, tmp_path):
    out = subprocess.run([str(floe_bin), "serve", "--data-dir", str(tmp_path / "d"),
                          "--tls-cert", str(tmp_path / "missing.pem"),
                          "--tls-key", str(tmp_path / "missing.key")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "missing.pem" in out.stderr
    out = subprocess.run([str(floe_bin), "serve", "--tls-policy", "tls10"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "tls13, tls12-pfs" in out.stderr
    # TLS cannot be required without a certificate.
    out = subprocess.run([str(floe_bin), "serve", "--require-tls"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "--tls-cert" in out.stderr


# -- An external scanner (sslyze) on both endpoints, for each policy ---------

SSLYZE_VERSIONS = ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1", "tls_1_2", "tls_1_3"]


def sslyze(target: str, *args: str) -> subprocess.CompletedProcess:
    import sys
    return subprocess.run([sys.executable, "-m", "sslyze", *args, target],
                          capture_output=True, text=True, timeout=240)


def accepted_suites(target: str, starttls: list[str]) -> dict[str, list[str]]:
    """The cipher suites the server accepts, by protocol version."""
    import json
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "scan.json")
        proc = sslyze(target, *starttls, "--quiet", f"--json_out={out}",
                      "--sslv2", "--sslv3", "--tlsv1", "--tlsv1_1", "--tlsv1_2", "--tlsv1_3")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with open(out) as f:
            result = json.load(f)["server_scan_results"][0]
    assert result["scan_status"] == "COMPLETED", result.get("connectivity_error_trace")
    out = {}
    for version in SSLYZE_VERSIONS:
        scan = result["scan_result"][f"{version}_cipher_suites"]
        assert scan["status"] == "COMPLETED", (version, scan)
        out[version] = [c["cipher_suite"]["name"] for c in scan["result"]["accepted_cipher_suites"]]
    return out


@pytest.mark.floe_timeout(600)
@pytest.mark.parametrize("policy", ["tls12-pfs", "tls13"])
def test_issue5_sslyze_scan_of_both_endpoints(floe_factory, policy):
    # The CA is made by the server, so the readiness probe cannot verify
    # it yet; the scanner and psql below do.
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    srv = floe_factory(extra_args=["--dev-tls", "--tls-policy", policy], https_context=probe)
    ca_path = os.path.join(srv.data_dir, "tls", "ca.pem")
    assert "CA SHA-256 fingerprint" in srv.stdout_text()
    assert f"sslrootcert={ca_path}" in srv.stdout_text()
    endpoints = {
        "https": (f"localhost:{srv.http_port}", []),
        "pg": (f"localhost:{srv.pg_port}", ["--starttls", "postgres"]),
    }
    for name, (target, starttls) in endpoints.items():
        suites = accepted_suites(target, starttls)
        for old in ["ssl_2_0", "ssl_3_0", "tls_1_0", "tls_1_1"]:
            assert suites[old] == [], (name, old, suites[old])
        assert suites["tls_1_3"], (name, "TLS 1.3 not offered")
        if policy == "tls13":
            assert suites["tls_1_2"] == [], (name, suites["tls_1_2"])
        else:
            assert suites["tls_1_2"], (name, "TLS 1.2 not offered")
        for suite in suites["tls_1_2"]:
            assert suite.startswith("TLS_ECDHE_"), (name, suite)  # forward secrecy only
            assert "GCM" in suite or "CHACHA20_POLY1305" in suite, (name, suite)  # AEAD only
            assert "CBC" not in suite and "EXPORT" not in suite and "NULL" not in suite
        # Mozilla's profiles: "intermediate" is TLS 1.3 + TLS 1.2 with
        # ECDHE and AEAD; "modern" is TLS 1.3 only (and certificates of
        # under 90 days, which --dev-tls makes).
        profile = "modern" if policy == "tls13" else "intermediate"
        proc = sslyze(target, *starttls, f"--mozilla_config={profile}",
                      "--certinfo_ca_file", ca_path)
        assert f"{target}: OK - Compliant." in proc.stdout, (name, proc.stdout[-3000:])
    # psql with verify-full against the printed CA works.
    out = subprocess.run(
        ["psql", "-X", "-At", "-c", "SELECT 42",
         f"host=localhost port={srv.pg_port} user=floe dbname=floe sslmode=verify-full "
         f"sslrootcert={ca_path}"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "42", out.stderr
