"""The SLA engine: report periods, per-second attribution, incidents, degradation, and the
evaluation that turns samples and the contract's terms into downtime, uptime and credit.

Pure functions over numpy arrays and DataFrames. May import `collector.core` and
`collector.config`; nothing that reads stores or draws.
"""
