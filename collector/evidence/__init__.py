"""The evidence store and its records: append-only, hash-chained SQLite, the record builders,
the clock the records show, import and export (the backup, which takes the attached
documents along, lives in `collector.documents`).

May import `collector.core`, `collector.config`, `collector.portable` (the record format) and
`collector.probes` (the registry, which names the kinds an imported record may have).
"""
