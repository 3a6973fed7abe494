"""Public RFC 3161 authorities that `slawitness init` proposes, each with the root that
checks it and where both come from.

Trusted time is worth little if nobody turns it on, so a new config asks several public
authorities at once, at least two of which must stamp a checkpoint: one authority's outage
or mistake then neither stops nor decides the trusted time. An entry is here only when its
URL is documented by its operator and its TSA certificate chains to a root of the Mozilla
CA store (Debian's ca-certificates, `/etc/ssl/certs`): the root shipped beside this module
(`tsa_roots/`) is a byte-for-byte copy of that store's file, named with its SHA-256 in the
entry's source note, so anyone can compare it with their own system's copy.

These authorities are free and unauthenticated; each asks for moderate use (Sectigo: 15 s
or more between requests), and one request per authority a day (the default `every`) is far
below that. Others that are often listed (GlobalSign's `tsa/r6advanced1`, for one) are left
out until their operator's own page for the URL can be cited.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

ROOTS_PACKAGE = "collector.proving"
ROOTS_FOLDER = "tsa_roots"
AT_LEAST = 2
"""How many of the proposed authorities must stamp a checkpoint: two independent ones."""


@dataclass(frozen=True)
class PublicTsa:
    """One public authority: its URL, its root's file, and where both are documented."""

    name: str
    url: str
    root_file: str
    """The PEM file in `tsa_roots/`, copied from `store_file`."""
    store_file: str
    """The file of Debian's ca-certificates (the Mozilla CA store) the root was copied from."""
    root_sha256: str
    """SHA-256 of the root certificate (DER), lower-case hex, as `openssl x509 -fingerprint
    -sha256` prints it without the colons."""
    url_source: str
    """Where the operator documents the URL."""
    root_source: str
    """Why this root checks this authority's tokens."""

    def source_note(self) -> str:
        """One line for the config's comment: the URL's source, the root's, its SHA-256."""
        return (
            f"{self.name}: URL from {self.url_source}; root {self.root_source}, copied from"
            f" {self.store_file} (SHA-256 {self.root_sha256})"
        )

    def root_pem(self) -> bytes:
        """The root certificate as shipped in the package."""
        folder = resources.files(ROOTS_PACKAGE).joinpath(ROOTS_FOLDER)
        return folder.joinpath(self.root_file).read_bytes()


PUBLIC_TSAS = (
    PublicTsa(
        name="DigiCert",
        url="http://timestamp.digicert.com",
        root_file="digicert-trusted-root-g4.pem",
        store_file="/etc/ssl/certs/DigiCert_Trusted_Root_G4.pem",
        root_sha256="552f7bdcf1a7af9e6ce672017f4f12abf77240c78e761ac203d1d9d20ac89988",
        url_source="https://www.digicert.com/kb/timestamp-server-documentation.htm",
        root_source=(
            "DigiCert Trusted Root G4, which issues the 'DigiCert Trusted G4 RSA4096 SHA256"
            " TimeStamping CA' that signs the TSA's certificates"
        ),
    ),
    PublicTsa(
        name="Sectigo",
        url="http://timestamp.sectigo.com",
        root_file="usertrust-rsa-certification-authority.pem",
        store_file="/etc/ssl/certs/USERTrust_RSA_Certification_Authority.pem",
        root_sha256="e793c9b02fd8aa13e21c31228accb08119643b749c898964b1746d46c3d4cbd2",
        url_source="https://sectigo.com/resources/time-stamping-server",
        root_source=(
            "USERTrust RSA Certification Authority (Sectigo's), which issues the 'Sectigo"
            " RSA Time Stamping CA' and cross-signs 'Sectigo Public Time Stamping Root R46'"
        ),
    ),
)


def sha256_of_pem(pem: bytes) -> str:
    """SHA-256 of the DER inside a one-certificate PEM, as the source notes give it."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    certificate = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


def write_roots(folder: Path) -> dict[str, Path]:
    """Write each authority's root into `folder` (made if missing), keeping a file that is
    already there with the same bytes; the path of each, by URL."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for tsa in PUBLIC_TSAS:
        path = folder / tsa.root_file
        pem = tsa.root_pem()
        if not path.exists() or path.read_bytes() != pem:
            path.write_bytes(pem)
        written[tsa.url] = path
    return written


def config_block(roots_folder: str) -> str:
    """The `checkpoints.timestamping` block `init` appends to a new config: every public
    authority with a comment on its source, roots under `roots_folder` (relative to the
    config's folder), `at_least` two of them."""
    lines = [
        "",
        "# Trusted time: public RFC 3161 authorities countersign a checkpoint once a day; it",
        f"# counts as time-stamped when {AT_LEAST} of them did. Remove this block, or run",
        "# `slawitness init --no-timestamping`, for a collector that must not reach them.",
        "checkpoints:",
        "  timestamping:",
        f"    at_least: {AT_LEAST}",
        "    authorities:",
    ]
    for tsa in PUBLIC_TSAS:
        lines.append(f"      # {tsa.source_note()}")
        lines.append(f"      - {{url: {tsa.url}, roots: {roots_folder}/{tsa.root_file}}}")
    return "\n".join(lines) + "\n"
