"""The light half of slawitness: probes, scheduling, the evidence store, proofs and the exporter.

Nothing under this package may import pandas, matplotlib or numpy, and nothing imports
`reports` or `cli`: a cron round must stay cheap enough to run every minute on the smallest
VPS. Each subpackage's docstring says what lives there and what it may import, and
tests/test_import_contract.py holds them to it:

    core         shared vocabulary (Result, durations, dates) and safe file I/O
    config       the config model, its loader, secrets and the SLA terms
    probes       one module per probe kind and the registry; probes/net beneath them
    running      one attempt, a round, the round pipeline, the daemon
    evidence     the append-only store, its records, import, export, backup
    documents    attached contracts, invoices and correspondence
    proving      checkpoints, consistency, proof files, trusted timestamps
    portable     the standard-library checks shipped in every bundle's verify.py
    prometheus   metric families, the exporter server, /probe
    alerts       notifications due and sent
    diagnostics  traceroutes and DNS answers kept beside a failure
"""

__version__ = "0.1.0"
