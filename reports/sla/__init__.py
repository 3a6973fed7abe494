"""The SLA engine: report periods, per-second attribution, incidents, degradation, and the
evaluation that turns samples and the contract's terms into downtime, uptime and credit,
and the shape of summary.json (`summary`: the typed figures, incidents and report summary).

Pure functions over numpy arrays and DataFrames. May import `collector.core`,
`collector.config` and `reports.report_text` (the words for why a sample was not counted);
nothing that reads stores or draws.
"""
