"""Samples for the SLA engine: read and checked from evidence stores, or asked of Prometheus;
and the one open view of a report's stores (`evidence_view`) that every later read shares.

May import `collector`, `reports.sla` and `reports.worker_pool` (a long store read in
parallel).
"""
