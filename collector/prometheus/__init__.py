"""Results as Prometheus series: metric families, the exporter's HTTP server, blackbox-style
`/probe`, TLS and basic auth in the exporter-toolkit format.

May import `collector.core`, `config`, `probes`, `running` and `evidence`.
"""
