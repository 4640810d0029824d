"""A real RFC 3161 time-stamping authority for the tests, on 127.0.0.1.

Its CA and its TSA certificate (critical EKU id-kp-timeStamping, as RFC 3161 requires) are made
with ``cryptography``; the TSTInfo, the CMS SignedData and the TimeStampResp are built with
``asn1crypto``, whose structures are the RFCs' ASN.1; the signature over the DER signed
attributes is ``cryptography``'s ECDSA. Nothing here is cryptography of our own.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# No type information in asn1crypto; what leaves this module is bytes.
from asn1crypto import cms, core, tsp  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class TestTsa:
    """A CA, a TSA certificate under it, and an HTTP server answering time-stamp requests.

    ``answer`` may be replaced to misbehave: it gets the request's DER and returns the body."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, name: str = "test TSA") -> None:
        now = datetime.now(UTC)
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name(f"{name} root")
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca_name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
            )
            .sign(self.ca_key, hashes.SHA256())
        )
        self.serials = itertools.count(1)
        self.requests = 0
        self.answer: Callable[[bytes], tuple[int, bytes]] = lambda der: (200, self.respond(der))
        self._server: ThreadingHTTPServer | None = None

    def ca_pem(self, path: Path) -> Path:
        path.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        return path

    def respond(self, request_der: bytes, *, imprint: bytes | None = None) -> bytes:
        """The TimeStampResp for a request (``imprint``: time-stamp other bytes instead)."""
        req = tsp.TimeStampReq.load(request_der)
        message_imprint = req["message_imprint"]
        if imprint is not None:
            message_imprint = tsp.MessageImprint(
                {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint}
            )
        info = tsp.TSTInfo(
            {
                "version": "v1",
                "policy": "1.3.6.1.4.1.99999.1",
                "message_imprint": message_imprint,
                "serial_number": next(self.serials),
                "gen_time": datetime.now(UTC).replace(microsecond=0),
                "nonce": req["nonce"].native,
            }
        )
        info_der = info.dump()
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        ess = tsp.ESSCertIDv2(
            {
                "hash_algorithm": {"algorithm": "sha256"},
                "cert_hash": hashlib.sha256(cert_der).digest(),
            }
        )
        attrs = cms.CMSAttributes(
            [
                cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
                cms.CMSAttribute(
                    {"type": "message_digest", "values": [hashlib.sha256(info_der).digest()]}
                ),
                cms.CMSAttribute(
                    {
                        "type": "signing_certificate_v2",
                        "values": [tsp.SigningCertificateV2({"certs": [ess]})],
                    }
                ),
            ]
        )
        signature = self.key.sign(attrs.dump(), ec.ECDSA(hashes.SHA256()))
        cert = asn1_x509.Certificate.load(cert_der)
        signer = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                            {"issuer": cert.issuer, "serial_number": cert.serial_number}
                        )
                    }
                ),
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature,
            }
        )
        signed = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [{"algorithm": "sha256"}],
                "encap_content_info": {
                    "content_type": "tst_info",
                    "content": core.ParsableOctetString(info_der),
                },
                "certificates": [cert],
                "signer_infos": [signer],
            }
        )
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        reply = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return bytes(reply.dump())

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/tsa"

    def start(self) -> None:
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                tsa.requests += 1
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    code, reply = 415, b""
                else:
                    code, reply = tsa.answer(body)
                self.send_response(code)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
