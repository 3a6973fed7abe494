"""Samples for the SLA engine: read and checked from evidence stores, or asked of Prometheus.

May import `collector` and `reports.sla`.
"""
