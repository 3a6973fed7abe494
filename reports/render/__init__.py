"""The report's files: charts, HTML, PDF, samples.csv and the letter drafts, written from the
report summary.

May import `collector.core`, `collector.documents`, `collector.config` and
`collector.proving` (the PDFs are signed with the configured document certificate),
`reports.report_text` and `reports.worker_pool` (files drawn in worker processes); never
`reports.sources` or `reports.sla`: a renderer works from the summary alone.
"""
