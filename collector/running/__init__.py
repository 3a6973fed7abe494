"""Running probes: one attempt with its deadline, a round of many, the cron round's after-append
steps and the daemon's schedule.

May import `collector.core`, `config`, `probes`, `evidence`, `portable` (the signing key),
`proving`, `alerts` and `diagnostics`; never `collector.prometheus`: what the daemon observed
reaches the exporter through the small protocol the exporter's state implements.
"""
