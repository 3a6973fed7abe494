"""What the path looked like when a target failed: traceroutes and a fresh DNS answer, kept as
evidence beside the failure.

May import `collector.core`, `config`, `probes` and `evidence`.
"""
