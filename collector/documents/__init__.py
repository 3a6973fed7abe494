"""Documents kept beside the measurements: contracts, invoices and correspondence, each copied,
hashed and chained as an attachment record; and the backup, which copies the store with the
documents its records name.

May import `collector.core`, `collector.config` and `collector.evidence`.
"""
