"""The http probe's config keys: what one request is, how its answer is checked, its secrets.

Kept apart from the attempt (`http_exchange`) and its client (`http_client`), which both
read it, so that loading a config never imports httpx (only a URL's check does, for
configs that hold an http probe) and no module of the kind imports another that imports
it back. Header values and the basic-auth password are secrets: sent to the target only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationInfo, field_validator

from collector.config.secrets import Secret
from collector.probes.base import ProbeSpec
from collector.probes.net.resolve import require_host

TlsMode = Literal["verify", "skip", "pin"]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RESERVED_HEADERS = {"host", "connection", "content-length", "transfer-encoding"}
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""What a header value cannot hold (RFC 9110 field-value: visible characters, space, tab)."""


class BasicAuth(BaseModel):
    """HTTP basic credentials; the password is a Secret."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    username: str
    """The user name, sent as written."""
    password: Secret
    """The password: a secret, best given as `${ENV_VAR}` or `{file: PATH}`; it is sent to the
    URL's own origin only and never recorded."""


class HttpSpec(ProbeSpec):
    """An http probe's config keys (validated at load: a bad regex is a config error)."""

    kind: Literal["http"]
    """`http`: one HTTP or HTTPS request on a fresh connection."""
    url: str
    """The absolute `http://` or `https://` URL to request; its host, not the target's
    `host`, is resolved and connected to. Credentials in the URL are refused: use
    `basic_auth`."""
    method: str = "GET"
    """The HTTP method, e.g. `GET`, `HEAD` or `POST` (sent in upper case). Default `GET`."""
    expect_status: list[Annotated[int, Strict()]] | None = None
    """The status codes that count as success, from 100 to 599; any other fails as
    `http_status`. Unset: any 2xx."""
    expect_body: str | None = None
    """Text the response body must contain, matched exactly; otherwise the attempt fails as
    `content`. Unset: not checked."""
    expect_body_regex: str | None = None
    """A Python regular expression that must match somewhere in the response body; otherwise
    the attempt fails as `content`. Unset: not checked."""
    headers: dict[str, Secret] = Field(default_factory=dict)
    """Extra request headers, name to value; values are secrets (`${ENV_VAR}` or
    `{file: PATH}`), sent to the URL's own origin only. `Host`, `Connection`,
    `Content-Length` and `Transfer-Encoding` cannot be set. Default: none."""
    basic_auth: BasicAuth | None = None
    """HTTP basic credentials, sent to the URL's own origin only (not after a redirect to
    another one). Unset: none are sent."""
    tls_verify: bool = True
    """For https, whether the server's certificate chain and name are checked (against
    `tls_ca` or the system's CAs); `false` accepts any certificate. A `tls_pin_sha256`
    overrides it. Default `true`."""
    tls_ca: str | None = None
    """A PEM file of the CA certificates to verify the server against, in place of the
    system's; a relative path is relative to the config file's folder. Unset: the system's
    CAs."""
    tls_pin_sha256: str | None = None
    """The SHA-256 fingerprint of the server's certificate (64 hex digits, colons allowed);
    only that certificate is accepted and the chain is not checked, which suits self-signed
    servers. Unset: no pin."""
    follow_redirects: bool = False
    """Whether to follow redirects, up to 10 within `timeout`; `false` judges the redirect
    response itself, so a 3xx fails unless `expect_status` lists it. Default `false`."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=0, le=2**30, strict=True)
    """The most bytes of the response body read and checked; a longer body fails as
    `content`. Default 1048576 (1 MiB)."""

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        import httpx  # only configs with http probes pay for httpx

        try:
            url = httpx.URL(value)
        except httpx.InvalidURL as exc:
            raise ValueError(f"not a valid URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("expected an absolute http:// or https:// URL")
        if url.userinfo:
            raise ValueError("credentials in the URL would be stored as text; use basic_auth")
        require_host(url.host)
        return value

    @field_validator("method")
    @classmethod
    def _method_token(cls, value: str) -> str:
        if not _TOKEN.fullmatch(value):
            raise ValueError(f"not an HTTP method: {value!r}")
        return value.upper()

    @field_validator("expect_status")
    @classmethod
    def _status_codes(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or any(not 100 <= c <= 599 for c in value)):
            raise ValueError("expected a non-empty list of status codes from 100 to 599")
        return value

    @field_validator("expect_body_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, Secret]) -> dict[str, Secret]:
        for name, secret in value.items():
            if not _TOKEN.fullmatch(name) or name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"header {name!r} cannot be set")
            if _UNSENDABLE.search(secret.reveal()):
                raise ValueError(f"header {name!r}: the value holds a line break or control"
                                 " character, which no HTTP request can carry")  # fmt: skip
        return value

    @field_validator("tls_ca")
    @classmethod
    def _ca_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        if not path.is_absolute():
            path = Path((info.context or {}).get("base_dir", ".")) / path
        if not path.is_file():
            raise ValueError(f"no CA bundle at {path}")
        return str(path)

    @field_validator("tls_pin_sha256")
    @classmethod
    def _pin(cls, value: str | None) -> str | None:
        return None if value is None else normalize_pin(value)

    def tls_mode(self) -> TlsMode:
        """How the server's certificate is checked."""
        if self.tls_pin_sha256 is not None:
            return "pin"
        return "verify" if self.tls_verify else "skip"

    def secrets(self) -> list[Secret]:
        """Every secret this probe sends, for scrubbing messages; with basic auth also the
        `user:password` pair, so that its base64 (the Authorization header) goes whole."""
        found = list(self.headers.values())
        if self.basic_auth is None:
            return found
        auth = self.basic_auth
        pair = Secret(f"{auth.username}:{auth.password.reveal()}", source="basic_auth")
        return [*found, auth.password, pair]


def normalize_pin(pin: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hex digits (colons and case as people write it)."""
    text = pin.replace(":", "").strip().lower()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError("expected a SHA-256 fingerprint: 64 hex digits, colons allowed")
    return text
