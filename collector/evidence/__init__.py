"""The evidence store and its records: append-only, hash-chained SQLite, the record builders,
the dates and clock the records show, import, export and backup.

May import `collector.core`, `collector.config` and `collector.portable` (the record format).
"""
