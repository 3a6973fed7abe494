"""Documents kept beside the measurements: contracts, invoices and correspondence, each copied,
hashed and chained as an attachment record.

May import `collector.core`, `collector.config` and `collector.evidence`.
"""
