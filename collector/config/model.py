"""The config file: one typed tree, validated at load, errors naming the key path.

A user edits `slawitness.yml` by hand, over SSH, months apart. Every mistake must come back as
one line that says which key is wrong and why, e.g.
``slawitness.yml: targets[0].probes[1].timeout: must be shorter than interval (got 90s >= 60s)``,
never as a traceback, and unknown keys are refused so a typo cannot silently disable a term.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ByteSize,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from collector.config.secrets import Secret
from collector.config.sla_terms import SlaGroup, SlaTerms
from collector.portable.cosignature import CosignerKey
from collector.portable.signed_note import NoteError
from collector.probes import KINDS, ProbeSpec
from collector.probes.base import Duration, PositiveDuration
from collector.probes.http_spec import BasicAuth
from collector.probes.net.resolve import HostName
from collector.probes.net.send_pacing import DEFAULT_ICMP_RATE

DEFAULT_CONFIG = "slawitness.yml"
_NAME = r"^[A-Za-z0-9_.-]+$"


def _probe_tag(value: Any) -> str | None:
    """Which registered kind a probe entry is; `None` makes pydantic report an unknown kind."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return f"kind:{kind}" if isinstance(kind, str) and kind in KINDS else None


if TYPE_CHECKING:
    AnyProbeSpec = ProbeSpec
else:
    AnyProbeSpec = Annotated[
        Union[tuple(Annotated[k.spec, Tag(f"kind:{name}")] for name, k in KINDS.items())],  # noqa: UP007
        Discriminator(
            _probe_tag,
            custom_error_type="unknown_kind",
            custom_error_message=f"kind: must be one of {', '.join(KINDS)}",
        ),
    ]
    """Any registered probe spec; built from the registry, the only list of kinds."""


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )


class Provider(_Strict):
    """Who rents the host out: named in reports and complaint letters."""

    name: str | None = None
    """The provider's name, shown in the report and used to address the complaint letter.
    Unset: the letter leaves the name blank."""
    account: str | None = None
    """Your customer or contract number at the provider, shown in the report and quoted in
    the letter's claim. Unset: the letter leaves it blank."""
    contact: str | None = None
    """Where claims go (a support e-mail address or URL), shown in the report and as the
    letter's recipient. Unset: the letter is addressed to the provider's name only."""
    country: str | None = None
    """The provider's country, shown next to its name in the HTML report. Unset: not shown."""


class Host(_Strict):
    """A probed host: a rented target or a control."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    """A short name for this host in records, reports and `--target` options; unique across
    all targets and controls."""
    host: HostName = Field(min_length=1)
    """The IPv4 or IPv6 address or DNS name that icmp and tcp probes reach, and that dns
    probes ask unless they set `server`. An http probe goes to its `url`'s host instead."""
    probes: list[AnyProbeSpec] = Field(min_length=1)
    """The checks run against this host, each at its own interval; probe names must be
    unique within the host."""

    @model_validator(mode="after")
    def _unique_probe_names(self) -> Host:
        seen: set[str] = set()
        for index, probe in enumerate(self.probes):
            if probe.name in seen:
                raise ValueError(f"probes[{index}].name: duplicate probe name {probe.name!r}")
            seen.add(probe.name)
        return self


class Target(Host):
    """A rented host whose SLA is watched."""

    role: Literal["target"] = "target"
    """Always `target`, and best left out; every record stores it, so that evidence about
    targets and controls is never mixed up."""
    provider: Provider = Provider()
    """Who rents the host out and where claims go, for reports and complaint letters.
    Default: every provider key unset."""
    sla: SlaTerms | None = None
    """The contract terms the target is judged by. Unset: the target is still probed and
    recorded, but gets no SLA report and no live SLA metrics."""

    @model_validator(mode="after")
    def _downtime_probes_exist(self) -> Target:
        if self.sla is not None and isinstance(self.sla.downtime.probes, list):
            names = {p.name for p in self.probes}
            for index, name in enumerate(self.sla.downtime.probes):
                if name not in names:
                    raise ValueError(
                        f"sla.downtime.probes[{index}]: no probe named {name!r} on this target"
                    )
        return self


class Control(Host):
    """A well-known host that shows whether the user's own network was up."""

    role: Literal["control"] = "control"
    """Always `control`, and best left out; every record stores it, so that a control's
    failures are never counted against a provider."""


class TsaAuthority(_Strict):
    """One RFC 3161 time-stamping authority among several."""

    url: str = Field(pattern=r"^https?://")
    """The TSA's URL. Each authority gets its own request (its own nonce) for the latest
    checkpoint, answered, failed and retried apart from the others."""
    roots: Path | None = None
    """PEM file of the CA certificates this TSA's answers must chain to; relative to the
    config file's folder. Unset: answers are checked for the right hash and nonce, and the
    certificates they carry are kept for a later check."""


class Timestamping(_Strict):
    """RFC 3161 time-stamping authorities that countersign a checkpoint once a day: either
    one (`url`, `roots`) or several (`authorities`, `at_least`)."""

    url: str | None = Field(default=None, pattern=r"^https?://")
    """The TSA's URL, for a single authority (for example a public TSA of your country's
    trust list). Requests are queued in the store before they are sent, so a TSA outage
    never blocks probing. Give this or `authorities`, not both."""
    roots: Path | None = None
    """With `url`: PEM file of the CA certificates the TSA's answers must chain to; relative
    to the config file's folder. Unset: answers are checked for the right hash and nonce,
    and the certificates they carry are kept for a later check."""
    authorities: list[TsaAuthority] | None = Field(default=None, min_length=1)
    """Several independent TSAs, all asked at once for each checkpoint to be time-stamped,
    so that no single authority's word (or outage) decides the trusted time. `slawitness
    init` proposes public ones. Give this or `url`, not both."""
    at_least: int | None = Field(default=None, ge=1, strict=True)
    """With `authorities`: how many of them must stamp a checkpoint before it counts as
    time-stamped (what `verify`, `status` and the report hold it to). Default: 1."""
    every: PositiveDuration = 86400.0
    """How often a checkpoint is time-stamped. Default: once a day."""
    timeout: PositiveDuration = 10.0
    """How long one request may take. Authorities are asked at the same time, so a round
    waits at most this long for all of them. Default: 10 s."""

    @model_validator(mode="after")
    def _one_form_and_a_quorum_that_can_be_met(self) -> Timestamping:
        if self.url is None and self.authorities is None:
            raise ValueError("url: give the TSA's url, or authorities: a list of TSAs")
        if self.authorities is None:
            if self.at_least not in (None, 1):
                raise ValueError(f"at_least: {self.at_least} of 1 authority cannot be met")
            return self
        if self.url is not None:
            raise ValueError("url: give either url or authorities, not both")
        if self.roots is not None:
            raise ValueError("roots: with authorities, each authority names its own roots")
        seen: set[str] = set()
        for index, authority in enumerate(self.authorities):
            if authority.url in seen:
                raise ValueError(f"authorities[{index}].url: {authority.url} is listed twice")
            seen.add(authority.url)
        if self.quorum > len(self.authorities):
            count = len(self.authorities)
            raise ValueError(f"at_least: {self.quorum} of {count} authorities cannot be met")
        return self

    @property
    def sources(self) -> list[TsaAuthority]:
        """The authorities asked, in config order: one for the single-`url` form."""
        if self.authorities is not None:
            return list(self.authorities)
        assert self.url is not None  # the validator holds one of the two forms
        return [TsaAuthority(url=self.url, roots=self.roots)]

    @property
    def quorum(self) -> int:
        """How many authorities must stamp a checkpoint for it to count as time-stamped."""
        return self.at_least or 1


class Diagnostics(_Strict):
    """Path traces and a fresh DNS answer when a target fails, kept as chained evidence."""

    enabled: bool = True
    """Trace the paths (with `mtr`) when a target's probe fails. Default: on."""
    every: Duration = 600.0
    """At most one diagnosis per target this often, while it keeps failing, so a flapping
    host cannot flood the store. Default: 10 minutes."""
    count: int = Field(default=3, ge=1, le=20, strict=True)
    """Probes per hop in each trace. Default: 3."""
    concurrency: int = Field(default=16, ge=1, le=256, strict=True)
    """How many failing targets are traced at once (each an `mtr` process, its controls
    traced one after another within it). Default: 16."""
    budget: PositiveDuration | None = None
    """How long a round's diagnoses may take, counted from the round's decision of which
    targets are due: a trace still running then is cut short, and a due target not yet
    traced is recorded as not traced, so traces never pile up behind the next round.
    Cron rounds only: the daemon queues each target once and cuts its traces short when it
    stops. Default: a third of the shortest probe interval, at most 20 seconds."""
    resolver: str | None = None
    """IPv4 address (and :port) of the DNS server asked for the fresh resolution of a failing
    target's name, e.g. a public resolver in another network. Default: the system's."""

    @field_validator("resolver")
    @classmethod
    def _resolver_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        address, colon, port = value.partition(":")
        try:
            ipaddress.IPv4Address(address)
        except ValueError:
            raise ValueError(f"not an IPv4 address: {address!r}") from None
        digits = port.isascii() and port.isdigit() and len(port) <= 5  # int() of 5000 digits fails
        if colon and not (digits and 1 <= int(port) <= 65535):
            raise ValueError(f"port must be from 1 to 65535, got {port}")
        return value


class Checkpoints(_Strict):
    """Signed Merkle checkpoints of the store: commitments to its whole history so far."""

    key: Path = Path("slawitness.key")
    """The Ed25519 signing key that `slawitness init` creates (mode 0600); relative to the
    config file's folder. Its public half is written beside it as `.pub`. It never goes
    into a bundle. Default: `slawitness.key` next to the config file."""
    every: PositiveDuration = 3600.0
    """How often the daemon writes a checkpoint; a cron round writes one when the last is
    this old. Default: hourly."""
    timestamping: Timestamping | None = None
    """Trusted time from RFC 3161 authorities (`slawitness init` proposes public ones, k of
    n). Default: none."""


class WitnessServer(_Strict):
    """One C2SP tlog-witness that cosigns this store's checkpoints."""

    url: str = Field(pattern=r"^https?://")
    """The witness's submission prefix: checkpoints are sent to `URL/add-checkpoint`."""
    key: str = Field(min_length=1)
    """The witness's C2SP verifier key, `name+keyid+base64(0x04||public key)`: only
    cosignatures that verify against it are kept, and its name is the witness's name."""

    @field_validator("key")
    @classmethod
    def _cosigner_key(cls, value: str) -> str:
        try:
            return CosignerKey.parse(value).encode()
        except NoteError as exc:
            raise ValueError(str(exc)) from None


class Witnesses(_Strict):
    """Witnesses that cosign each checkpoint after checking it extends what they saw, so a
    history rewritten by whoever holds the signing key no longer matches their cosignatures."""

    servers: list[WitnessServer] = Field(min_length=1)
    """The witnesses asked for a cosignature of every checkpoint, all at once."""
    at_least: int = Field(default=1, ge=1, strict=True)
    """How many of `servers` must cosign a checkpoint before it counts as witnessed (the
    policy `status` and `verify` hold it to). Default: 1."""
    timeout: PositiveDuration = 10.0
    """How long one witness may take to answer. A witness that does not answer in time is
    asked again later; probing never waits. Default: 10 s."""
    retry: PositiveDuration = 300.0
    """How long after a failed request the same witness is asked again. Default: 5 minutes."""

    @model_validator(mode="after")
    def _quorum_and_unique_keys(self) -> Witnesses:
        seen: set[str] = set()
        for index, server in enumerate(self.servers):
            name = server.key.split("+", 1)[0]
            if server.key in seen or name in {k.split("+", 1)[0] for k in seen}:
                raise ValueError(f"servers[{index}].key: the witness {name} is listed twice")
            seen.add(server.key)
        if self.at_least > len(self.servers):
            raise ValueError(
                f"at_least: {self.at_least} of {len(self.servers)} witnesses cannot be met"
            )
        return self


class Notifications(_Strict):
    """Messages to you when something happens, through apprise (for set-ups without
    Alertmanager); each one sent is also chained as a note, evidence that you acted."""

    urls: list[Secret] = Field(min_length=1)
    """Where to send, as apprise URLs (`mailto://`, `json://`, `slack://`, `tgram://`,
    `wecombot://`, `dingtalk://`, `feishu://` and every other service apprise knows). Each
    is a secret: best given as `${ENV_VAR}` or `{file: PATH}`; records and logs name a
    channel only as `urls[N] (scheme)`."""
    remind_before: Duration = 7 * 86400.0
    """How long before a breached period's claim deadline (`claim_window_days`) to remind
    you that it has not been claimed yet. Default: 7 days."""
    timeout: PositiveDuration = 10.0
    """How long one channel may take to send one message before it counts as failed.
    Default: 10 s."""


class Attachments(_Strict):
    """Documents kept beside the measurements (`slawitness attach`): the contract, invoices,
    payment receipts and support correspondence, each under its SHA-256 name in the folder
    beside the store (`evidence.attachments/` for `evidence.db`)."""

    max_size: ByteSize = ByteSize(100 * 2**20)
    """The largest file `attach` takes (`100MiB`, `20MB`, `1GiB`): a bigger one is refused
    with a message, so a mistaken path cannot fill the disk the evidence lives on. Default:
    100 MiB."""


class Probing(_Strict):
    """How the collector puts its probes on the wire, whatever targets they go to."""

    icmp_rate: int = Field(default=DEFAULT_ICMP_RATE, ge=1, le=100_000, strict=True)
    """Echo requests sent per second, across every ICMP probe of a round or of the daemon,
    on an even schedule (as `fping -i`): 10,000 targets pinged once each leave over about
    10 seconds instead of flooding the link at once and being dropped by the next hop's rate
    limit. Guaranteed: in any window of T seconds at most `icmp_rate * T` requests leave plus
    a catch-up burst of 4 (or 1 ms worth, if more) after a late wake-up; queued requests leave
    at this rate on average. An echo waiting its turn is not yet sent: its timeout and its RTT
    start when it leaves. There is no unpaced setting. Default 1000 (1 ms apart)."""


class RemoteWrite(_Strict):
    """One Prometheus-compatible store the collector copies its probe series to (remote
    write 1.0). The evidence store stays the source of truth: the copy is for dashboards
    and for `report --prometheus` across a fleet of collectors."""

    url: str = Field(pattern=r"^https?://[^\s/]+")
    """The receiver's write endpoint, e.g. `http://vm:8428/api/v1/write` (VictoriaMetrics)
    or `http://prometheus:9090/api/v1/write` (Prometheus with
    `--web.enable-remote-write-receiver`)."""
    basic_auth: BasicAuth | None = None
    """HTTP basic credentials for the receiver; the password is a secret. Default: none."""
    bearer_token: Secret | None = None
    """A bearer token for the receiver, a secret (best given as `${ENV_VAR}` or `{file:
    PATH}`). Default: none."""
    timeout: PositiveDuration = Field(default=30.0, le=600.0)
    """How long one request may take; a cron round ships for at most this long after it has
    probed, and never fails because the receiver is slow or down. Default: 30 s."""
    batch: int = Field(default=5000, ge=1, le=100_000, strict=True)
    """Samples per request at most. Default: 5000."""

    @model_validator(mode="after")
    def _one_credential(self) -> RemoteWrite:
        if self.basic_auth is not None and self.bearer_token is not None:
            raise ValueError("give basic_auth or bearer_token, not both")
        return self


class Exporter(_Strict):
    """The `/metrics` and `/probe` server of `slawitness serve` and `slawitness run --listen`."""

    probe_min_spacing: Duration | None = Field(default=None, le=86400.0)
    """The least time between two `/probe` attempts of the same probe. Each attempt appends a
    record, so a request that comes sooner is answered 429 with `Retry-After` and appends
    nothing: whoever can reach the port cannot grow the store at will. `0s` removes the
    limit. Default: nine tenths of the probe's `interval` (Prometheus scrapes `/probe` at the
    probe's interval; the tenth absorbs its timing)."""


class StatusPage(_Strict):
    """What `slawitness status-page DIR` makes public: a static page anyone can host, with its
    JSON feed, badges, the latest signed checkpoint and the proofs of the incidents shown."""

    title: str = Field(default="Service status", min_length=1, max_length=200)
    """The page's heading. Default: `Service status`."""
    targets: list[str] | None = None
    """The targets shown, by name, in this order. Default: every target with `sla:` terms."""
    names: bool = True
    """Whether the targets' names are shown. `false`: they read `Service 1`, `Service 2`...
    and no proof is published, since a proof carries its record, which names the target and
    its address. Default: `true`."""
    show: Literal["incidents", "uptime"] = "incidents"
    """`incidents`: the period's uptime, budget and incidents with their proofs; `uptime`:
    only the uptime figures. Default: `incidents`."""


class Documents(_Strict):
    """The signing certificate of the PDFs slawitness writes (the report, the statement of
    method): a PAdES signature proves who issued a document and that no byte of it changed,
    and document timestamps from the `checkpoints.timestamping` authorities prove when."""

    certificate: Path = Path("slawitness-documents.crt")
    """PEM certificate the PDFs are signed with (a chain of issuers may follow it in the same
    file); relative to the config file's folder. `slawitness init` creates a self-issued one
    for the collector's key owner when it is absent; replace it (and `key`) with one you
    already have. Default: `slawitness-documents.crt` next to the config file."""
    key: Path = Path("slawitness-documents.key")
    """The certificate's private key, PEM (mode 0600, like the checkpoint key); relative to
    the config file's folder. It never goes into a report or bundle. Default:
    `slawitness-documents.key` next to the config file."""
    pkcs12: Path | None = None
    """Instead of `certificate` and `key`: a PKCS#12 file (`.p12`, `.pfx`) holding both, as
    a certificate authority or a company's IT hands them out; relative to the config file's
    folder. Default: none."""
    passphrase: Secret | None = None
    """With `pkcs12`: its passphrase, a secret (best given as `${ENV_VAR}` or `{file:
    PATH}`). Default: none (a PKCS#12 file without one)."""
    sign: bool = True
    """Sign the PDFs. `false` leaves them unsigned (the report says so). Default: on."""
    timestamp: bool = True
    """Ask each authority of `checkpoints.timestamping` for a timestamp over the signed
    PDF, so its time is trusted and not the signer's own word. Without authorities, or
    when none answers, the PDF is still signed and says it has no trusted time. Default:
    on."""
    timeout: PositiveDuration = 10.0
    """How long one timestamp request may take; a report asks the authorities one after
    another, so signing waits at most this long per authority. Default: 10 s."""

    @model_validator(mode="after")
    def _passphrase_with_pkcs12(self) -> Documents:
        if self.passphrase is not None and self.pkcs12 is None:
            raise ValueError("passphrase: only a pkcs12 file has a passphrase")
        return self


class Config(_Strict):
    """The whole config file."""

    vantage: str = Field(min_length=1, max_length=64, pattern=_NAME)
    """The name of the place this collector probes from, stored in every record, so that
    evidence merged from several vantages says who saw what."""
    store: Path = Path("evidence.db")
    """The SQLite evidence store; a relative path is relative to the config file's folder.
    Default: `evidence.db` next to the config file."""
    targets: list[Target] = Field(min_length=1)
    """The rented hosts whose SLA is watched."""
    controls: list[Control] = []
    """Well-known hosts outside the provider (e.g. two unrelated public resolvers): while
    every control fails too, a target's outage is counted as your own network's, not the
    provider's. Default: none, so no outage can be told apart as local."""
    diagnostics: Diagnostics = Diagnostics()
    """Path traces when a target fails. Default: on, at most every 10 minutes per target."""
    checkpoints: Checkpoints = Checkpoints()
    """Signed checkpoints of the store's history. Default: hourly, with `slawitness.key`."""
    witnesses: Witnesses | None = None
    """Witnesses (C2SP tlog-witness) that cosign each checkpoint, so that the key holder
    cannot rewrite a witnessed history unnoticed. Default: none."""
    notifications: Notifications | None = None
    """Messages on incident opened and closed, SLA breached this period and claim deadline
    approaching, sent through apprise. Unset: none are sent."""
    attachments: Attachments = Attachments()
    """Contract, invoices and correspondence attached as evidence. Default: files up to
    100 MiB."""
    probing: Probing = Probing()
    """How probes are sent. Default: at most 1000 ICMP echo requests a second."""
    exporter: Exporter = Exporter()
    """How `serve` and `run --listen` answer Prometheus. Default: `/probe` runs each probe at
    most once per nine tenths of its interval."""
    remote_write: list[RemoteWrite] = []
    """Prometheus-compatible stores (VictoriaMetrics, Prometheus, Mimir, Thanos Receive) each
    probe attempt is copied to, as `probe_success` and blackbox_exporter's other series with
    the attempt's own timestamp, labelled vantage, target, probe, kind and role. Shipping
    resumes from a position file beside the store (`STORE.remote-write.json`). Default:
    none."""
    status_page: StatusPage = StatusPage()
    """What `slawitness status-page` makes public. Default: every SLA target, named, with its
    incidents."""
    documents: Documents = Documents()
    """How the report's PDFs are signed and timestamped. Default: signed with the certificate
    `slawitness init` makes, timestamped by the checkpoints' authorities."""

    @model_validator(mode="after")
    def _status_page_targets_exist(self) -> Config:
        with_sla = {t.name for t in self.targets if t.sla is not None}
        for index, name in enumerate(self.status_page.targets or []):
            if name not in with_sla:
                raise ValueError(
                    f"status_page.targets[{index}]: {name!r} is not a target with `sla:` terms"
                )
        return self

    @model_validator(mode="after")
    def _unique_host_names(self) -> Config:
        seen: set[str] = set()
        for section, hosts in (("targets", self.targets), ("controls", self.controls)):
            for index, host in enumerate(hosts):
                if host.name in seen:
                    raise ValueError(f"{section}[{index}].name: duplicate name {host.name!r}")
                seen.add(host.name)
        for index, target in enumerate(self.targets):
            if target.sla is not None and target.sla.zones is not None:
                names = [t.name for t in self.targets]
                preset = target.sla.preset is not None
                _check_group(target.sla.zones, names, index, from_preset=preset)
        return self

    def hosts(self) -> list[Target | Control]:
        """Targets then controls: everything a round probes."""
        return [*self.targets, *self.controls]

    def intervals(self) -> dict[tuple[str, str], float]:
        """(host, probe) -> the probe's interval in seconds, targets and controls alike."""
        return {
            (host.name, spec.name): spec.interval for host in self.hosts() for spec in host.probes
        }

    def secrets(self) -> list[Secret]:
        """Every secret in the config, so text can be scrubbed before it becomes evidence."""
        found: list[Secret] = []
        _collect_secrets(self, found)
        return found


def _check_group(group: SlaGroup, names: list[str], index: int, *, from_preset: bool) -> None:
    """A zone group names targets of this config, each once, and can be down as its rule
    says; the names are only known here, where every target is. A preset's group that the
    user has not named yet is left unapplied (the target is judged alone, as `check-config
    --explain` says), so a preset still fits a single instance."""
    key = f"targets[{index}].sla.zones"
    if not group.targets and from_preset:
        return
    if len(group.targets) < 2:
        raise ValueError(
            f"{key}.targets: name at least two targets of this config whose SLA this is"
            " (e.g. zones: {targets: [web-a, web-b]})"
        )
    for position, name in enumerate(group.targets):
        if name not in names:
            raise ValueError(
                f"{key}.targets[{position}]: no target named {name!r} (targets: {', '.join(names)})"
            )
        if name in group.targets[:position]:
            raise ValueError(f"{key}.targets[{position}]: {name!r} is named twice")
    if isinstance(group.down_when, int) and group.down_when > len(group.targets):
        raise ValueError(
            f"{key}.down_when: {group.down_when} of {len(group.targets)} targets can never be down"
        )


def _collect_secrets(value: object, found: list[Secret]) -> None:
    if isinstance(value, Secret):
        found.append(value)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            _collect_secrets(getattr(value, name), found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_secrets(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect_secrets(item, found)
