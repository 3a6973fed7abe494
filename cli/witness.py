"""`slawitness witness`: run a C2SP tlog-witness for other people's collectors.

`init` makes the witness's key and prints its verifier key, the line a collector adds to its
`witnesses:` list; `serve` answers `add-checkpoint` for the logs listed in a trusted-logs file
(`log <their slawitness.key.pub>` lines) until stopped. The witness keeps no config and opens
no evidence store: it needs only its key, that list and its own state file.
"""

from __future__ import annotations

from pathlib import Path

import click

from cli.base import exit_on_sigterm, say
from collector.core.key_files import public_key_path
from collector.prometheus.listen import parse_listen
from collector.witnessing.keys import create_witness_key, load_witness_key
from collector.witnessing.server import open_witness
from collector.witnessing.trusted_logs import load_trusted_logs

DEFAULT_KEY = Path("witness.key")


@click.group("witness")
def witness() -> None:
    """Witness other collectors' checkpoints (C2SP tlog-witness): init, serve."""


@witness.command("init")
@click.option("--name", required=True, help="The witness's name, e.g. example.org/witness.")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_KEY,
    show_default=True,
    help="Where to create the witness key (0600, never overwritten); its .pub goes beside it.",
)
def witness_init(name: str, key_path: Path) -> None:
    """Create the witness key and print its verifier key."""
    key = create_witness_key(key_path, name)
    say(f"witness key {key_path} created; its verifier key ({public_key_path(key_path)}):")
    click.echo(key.verifier().encode())


@witness.command("serve")
@click.option(
    "--key",
    "key_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_KEY,
    show_default=True,
    help="The witness key made by `slawitness witness init`.",
)
@click.option(
    "--logs",
    "logs_path",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The trusted logs: one `log <verifier key>` line per collector.",
)
@click.option(
    "--state",
    "state_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("witness.db"),
    show_default=True,
    help="The SQLite file of cosigned checkpoints (created when missing).",
)
@click.option("--listen", default="127.0.0.1:9926", show_default=True, help="HOST:PORT.")
@click.option("--prefix", default="", help="The submission prefix's path, e.g. /witness.")
def witness_serve(
    key_path: Path, logs_path: Path, state_path: Path, listen: str, prefix: str
) -> None:
    """Answer add-checkpoint for the trusted logs until stopped."""
    key = load_witness_key(key_path)
    logs = load_trusted_logs(logs_path)
    host, port = parse_listen(listen)
    server = open_witness(key, logs, state_path, host, port, prefix)
    exit_on_sigterm()
    say(f"witness {key.name} serving {len(logs.keys)} log(s) at {server.url}/add-checkpoint")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.state.close()
