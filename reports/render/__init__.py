"""The report's files: charts, HTML, PDF, samples.csv and the letter drafts, written from the
report summary.

May import `collector.core` and `collector.documents`; never `reports.sources`: a renderer
works from the summary alone.
"""
