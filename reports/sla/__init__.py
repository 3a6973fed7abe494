"""The SLA engine: report periods, per-second attribution, incidents, degradation, and the
evaluation that turns samples and the contract's terms into downtime, uptime and credit.

Pure functions over numpy arrays and DataFrames. May import `collector.core`,
`collector.config` and `reports.report_text` (the words for why a sample was not counted);
nothing that reads stores or draws.
"""
