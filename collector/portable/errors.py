"""The one exception tree: every error slawitness raises on purpose, and the exit code it ends in.

    SlawitnessError                  exit 70: reaching the command line unhandled is a bug
    ├── UsageError                   exit 2: bad arguments, config or files the user named
    │     ConfigError, UnknownTarget, ListenAddressError, OutputPathError, PeriodError,
    │     ImportFileError, SigningKeyError, ProofError, DeployError, TextfileError, ...
    ├── StoreAccessError             exit 3: the evidence store cannot be opened or written
    │     StoreError and its kinds, BackupError, FolderError
    ├── ReportError                  exit 4: a report, bundle or seal could not be made
    │     SourceError, RenderError, BundleError, PdfUnavailable, BuildError
    ├── TamperedError                exit 1: evidence that does not verify
    │     NoteError, CryptoMissing, Unverifiable
    └── ResolveError, PinMismatch, ProbeTooSoon, TsaError
          a provider's failure, recorded as data where it is raised, never shown as an error

The command line catches `SlawitnessError` once (`cli.main`), prints its `stderr_lines()`
and exits with its `exit_code`, so an error's code follows from where it sits in the tree:
renaming a class cannot change it, and a new class states its code by choosing its branch. A
class keeps a standard base where callers catch that (`FileTooLarge` is an `OSError`,
`ListenAddressError` a `ValueError`) and adds its branch beside it.

The tree lives here because the bundle's standalone `verify.py` embeds this package, and
the verifier's own errors must belong to it too; so this module, like its package, imports
the standard library only.
"""

from __future__ import annotations

from collections.abc import Sequence

EXIT_TAMPERED, EXIT_USAGE, EXIT_STORE, EXIT_REPORT, EXIT_BUG = 1, 2, 3, 4, 70


class SlawitnessError(Exception):
    """An error of ours, whose `exit_code` says how the command ends. Raised directly only
    for failures handled where they happen."""

    exit_code = EXIT_BUG

    def stderr_lines(self) -> Sequence[str]:
        """What the command line prints for it: one line naming the program, unless the
        error's own lines already name the file they are about (a config error)."""
        return [f"slawitness: {self}"]


class UsageError(SlawitnessError):
    """The user asked for something that cannot be done as asked: fix the command or config."""

    exit_code = EXIT_USAGE


class StoreAccessError(SlawitnessError):
    """The evidence (store, backup, attachment folder) cannot be opened, read or written."""

    exit_code = EXIT_STORE


class ReportError(SlawitnessError):
    """A report, bundle or seal could not be made: no data, a source unreachable, no output."""

    exit_code = EXIT_REPORT


class TamperedError(SlawitnessError):
    """Evidence that does not verify, or whose signature cannot be checked here."""

    exit_code = EXIT_TAMPERED
