"""The exporter's `--web-config` file: TLS and basic auth in the exporter-toolkit format.

Prometheus users already write one of these for node_exporter and blackbox_exporter, so the same
file (`tls_server_config`, `http_server_config`, `basic_auth_users`) configures slawitness's
`/metrics` and `/probe` endpoints. It is checked at load, like `slawitness.yml`: every mistake is
one `<file>: <key.path>: <problem>` line, and a key that would look configured but silently do
nothing is refused rather than ignored, because the point of the file is to be safe.

Differences from exporter-toolkit, all deliberate:
- `cert`, `key`, `client_ca` (inline PEM), `client_allowed_sans`, `cipher_suites`,
  `curve_preferences` and the top-level `rate_limit` are refused as unsupported: Go's cipher and
  curve names have no exact OpenSSL equivalent, and ignoring a restriction the user asked for
  would leave them believing in a protection they do not have. slawitness keeps Python's
  server defaults (forward-secret ciphers only).
- `min_version`/`max_version` accept TLS12 and TLS13 only.
- Python's `ssl` cannot request a client certificate without verifying it, so every client
  certificate is verified against `client_ca_file`: `RequestClientCert` verifies when a CA is
  given (and requests nothing otherwise), and `RequireAnyClientCert` needs a CA like
  `RequireAndVerifyClientCert`. Only the CA in `client_ca_file` is trusted, never the system's.
- An empty `tls_server_config:` or `basic_auth_users:` is an error, not "off": an emptied block
  must not quietly turn the endpoint into plain, open HTTP.
- `http_server_config.http2` is accepted and ignored (the server speaks HTTP/1.1 only);
  `headers` allows the same five headers as exporter-toolkit.
"""

from __future__ import annotations

import re
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from collector.config.loader import ConfigError, error_lines, read_yaml_mapping
from collector.core.bounded_read import SMALL_FILE_LIMIT, read_text_bounded
from collector.prometheus.basic_auth import BasicAuthGate

ClientAuthType = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
TlsVersion = Literal["TLS12", "TLS13"]

_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_NEEDS_CA = ("RequireAnyClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
_UNSUPPORTED_TLS = {
    "cert": "inline PEM is not supported; put it in a file and name it in cert_file",
    "key": "inline PEM is not supported; put it in a file and name it in key_file",
    "client_ca": "inline PEM is not supported; put it in a file and name it in client_ca_file",
    "client_allowed_sans": "is not supported; give Prometheus certificates from a dedicated CA",
    "cipher_suites": "is not supported (Go cipher names); Python's forward-secret defaults apply",
    "curve_preferences": "is not supported (Go curve names); OpenSSL's defaults apply",
}
_HEADERS = {
    name.lower(): name
    for name in (
        "Content-Security-Policy",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "X-XSS-Protection",
        "Strict-Transport-Security",
    )
}
_BCRYPT = re.compile(
    r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{21}[.Oeu][./A-Za-z0-9]{31}$"
)
"""A bcrypt hash as the bcrypt library parses it: the salt's last character carries 2 bits."""
_HASH_HINT = "store its bcrypt hash, e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"


class _Strict(BaseModel):
    """Unknown keys are refused (a typo must not silently switch protection off); frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _existing_file(value: Path | None, info: ValidationInfo) -> Path | None:
    """An absolute path to a file that exists; relative paths start at the web config's folder."""
    if value is None:
        return None
    path = value.expanduser()
    if not path.is_absolute():
        path = Path((info.context or {}).get("base_dir", ".")) / path
    if not path.exists():
        raise ValueError(f"file not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a regular file: {path}")
    return path


class TlsServerConfig(_Strict):
    """Where the server's certificate is and which clients may connect."""

    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuthType = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion | None = None
    prefer_server_cipher_suites: bool = True

    _files = field_validator("cert_file", "key_file", "client_ca_file")(_existing_file)

    @model_validator(mode="before")
    @classmethod
    def _refuse_unsupported(cls, data: Any) -> Any:
        """exporter-toolkit keys we cannot honour are named, not just called unknown."""
        for key, problem in _UNSUPPORTED_TLS.items():
            if isinstance(data, dict) and key in data:
                raise ValueError(f"{key}: {problem}")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> TlsServerConfig:
        """Combinations that would refuse every client are caught at load, not at scrape."""
        if self.client_auth_type in _NEEDS_CA and self.client_ca_file is None:
            raise ValueError(
                f"client_ca_file: required when client_auth_type is {self.client_auth_type}"
            )
        if self.max_version == "TLS12" and self.min_version == "TLS13":
            raise ValueError("max_version: is below min_version (TLS12 < TLS13)")
        return self

    def verify_mode(self) -> ssl.VerifyMode:
        """How the server treats client certificates (see the module docstring)."""
        if self.client_auth_type in ("RequireAnyClientCert", "RequireAndVerifyClientCert"):
            return ssl.CERT_REQUIRED
        if self.client_auth_type == "VerifyClientCertIfGiven" or (
            self.client_auth_type == "RequestClientCert" and self.client_ca_file is not None
        ):
            return ssl.CERT_OPTIONAL
        return ssl.CERT_NONE


class HttpServerConfig(_Strict):
    """Response headers added to every reply; `http2` is accepted and ignored (HTTP/1.1 only)."""

    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _allowed_headers(cls, headers: dict[str, str]) -> dict[str, str]:
        """exporter-toolkit's five headers, spelled canonically; a blank value means unset."""
        checked: dict[str, str] = {}
        for name, value in headers.items():
            canonical = _HEADERS.get(name.lower())
            if canonical is None:
                allowed = ", ".join(_HEADERS.values())
                raise ValueError(f"header {name!r} cannot be configured (allowed: {allowed})")
            if any(ord(char) < 32 or ord(char) == 127 for char in value):
                raise ValueError(
                    f"header {name!r}: control characters are not allowed in its value"
                )
            value = value.strip()
            low = value.lower()
            if canonical == "X-Frame-Options" and value and low not in ("deny", "sameorigin"):
                raise ValueError(f"header {name!r} must be deny or sameorigin (got {value!r})")
            if canonical == "X-Content-Type-Options" and value and low != "nosniff":
                raise ValueError(f"header {name!r} must be nosniff (got {value!r})")
            if value:
                checked[canonical] = value
        return checked


def _bcrypt_hash(value: object) -> str:
    """A bcrypt hash; the value is never echoed, since a mistake here is usually a password."""
    if not isinstance(value, str) or not _BCRYPT.match(value):
        raise ValueError(
            f"not a bcrypt hash ($2a$, $2b$ or $2y$): never put a password here, {_HASH_HINT}"
        )
    return value


BcryptHash = Annotated[str, PlainValidator(_bcrypt_hash)]


class WebConfig(_Strict):
    """The whole web config file; an absent block means that feature is off."""

    tls_server_config: TlsServerConfig | None = None
    http_server_config: HttpServerConfig = HttpServerConfig()
    basic_auth_users: dict[str, BcryptHash] = Field(default_factory=dict, repr=False)

    @model_validator(mode="before")
    @classmethod
    def _refuse_empty_and_unsupported(cls, data: Any) -> Any:
        """An emptied block must not mean "off"; user names are text even when YAML says 123."""
        if not isinstance(data, dict):
            return data
        if "rate_limit" in data:
            raise ValueError("rate_limit: is not supported; rate-limit in a reverse proxy")
        if "tls_server_config" in data and not data["tls_server_config"]:
            raise ValueError(
                "tls_server_config: is empty; give cert_file and key_file, "
                "or remove the key to serve plain HTTP"
            )
        users = data.get("basic_auth_users", {})
        if "basic_auth_users" in data and not users:
            raise ValueError(
                "basic_auth_users: lists no users; remove the key to serve without authentication"
            )
        if isinstance(users, dict):
            for user in users:
                if isinstance(user, str) and ":" in user:
                    raise ValueError(
                        f"basic_auth_users: user name {user!r} contains ':', "
                        "which basic auth cannot carry"
                    )
            data = {
                **data,
                "basic_auth_users": {
                    str(user) if isinstance(user, int) else user: hashed
                    for user, hashed in users.items()
                },
            }
        return data

    def ssl_context(self) -> ssl.SSLContext | None:
        """A fresh server context from the files as they are now; None when TLS is off.

        Raises ValueError naming the key when a file no longer loads (it did at load time).
        Calling it again picks up renewed certificates.
        """
        tls = self.tls_server_config
        if tls is None:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _VERSIONS[tls.min_version]
        if tls.max_version is not None:
            context.maximum_version = _VERSIONS[tls.max_version]
        if not tls.prefer_server_cipher_suites:
            context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        try:
            # An encrypted key gets an empty passphrase instead of a prompt on the terminal.
            context.load_cert_chain(tls.cert_file, tls.key_file, password=lambda: b"")
        except OSError as exc:
            raise ValueError(
                f"tls_server_config.cert_file: cannot load the certificate with key_file "
                f"{tls.key_file} ({_ssl_problem(exc)})"
            ) from None
        context.verify_mode = tls.verify_mode()
        if tls.client_ca_file is not None and context.verify_mode != ssl.CERT_NONE:
            try:
                context.load_verify_locations(cafile=tls.client_ca_file)
            except OSError as exc:
                raise ValueError(
                    f"tls_server_config.client_ca_file: cannot load CA certificates from "
                    f"{tls.client_ca_file} ({_ssl_problem(exc)})"
                ) from None
        return context

    def auth_gate(self) -> BasicAuthGate:
        """The basic-auth check for this config's users (allows everyone when there are none)."""
        return BasicAuthGate(self.basic_auth_users)


def _ssl_problem(exc: OSError) -> str:
    """OpenSSL's reason without the C source location, in words a user can act on."""
    text = re.sub(r"\s*\(_ssl\.c:\d+\)$", "", exc.strerror or str(exc))
    if text == "[SSL] PEM lib":
        return "no usable PEM data; an encrypted key is not supported"
    return text


def load_web_config(path: Path) -> WebConfig:
    """The validated web config at `path`; certificates and keys are loaded once to prove them.

    Every problem is a ConfigError whose lines read `<path>: <key.path>: <problem>`.
    """
    try:
        text = read_text_bounded(path, SMALL_FILE_LIMIT)
    except FileNotFoundError:
        raise ConfigError([f"{path}: web config file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read web config: {exc}"]) from None
    data = read_yaml_mapping(text, path, "tls_server_config, basic_auth_users")
    try:
        config = WebConfig.model_validate(data, context={"base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError([f"{path}: {line}" for line in error_lines(exc)]) from None
    try:
        config.ssl_context()
    except ValueError as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    return config
