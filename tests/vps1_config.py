"""The one-target config (vps1 with ping and tcp probes, SLA terms, a resolver control)
that tests over `tests.month_store` stores share, so they read the records the same way."""

CONFIG = {
    "vantage": "office",
    "store": "evidence.db",
    "targets": [
        {
            "name": "vps1",
            "host": "203.0.113.10",
            "provider": {"name": "ExampleHost", "account": "C-1234"},
            "probes": [
                {"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"},
                {"name": "web", "kind": "tcp", "port": 443, "interval": "60s", "timeout": "5s"},
            ],
            "sla": {
                "uptime": 99.9,
                "timezone": "UTC",
                "downtime": {"probes": "any", "min_duration": "5m"},
                "credits": [{"below": 99.9, "credit": 10}],
                "monthly_fee": 40,
                "currency": "USD",
                "claim_window_days": 30,
            },
        }
    ],
    "controls": [
        {
            "name": "resolver",
            "host": "198.51.100.53",
            "probes": [{"name": "ping", "kind": "icmp", "interval": "60s", "timeout": "2s"}],
        }
    ],
}
