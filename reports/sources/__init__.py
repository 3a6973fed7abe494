"""Samples for the SLA engine: read and checked from evidence stores, or asked of Prometheus.

May import `collector`, `reports.sla` and `reports.worker_pool` (a long store read in
parallel).
"""
