"""`slawitness witness`: a C2SP tlog-witness that cosigns other collectors' checkpoints.

A collector's own key proves nothing against its holder; a witness run by someone else (a
friend, a lawyer, a company) checks that each new checkpoint extends the last one it
cosigned and says so with a timestamped cosignature. Here: the logs a witness trusts
(`trusted_logs`), its key file (`keys`), the decision over a request and the state it read
(`decision`, pure), that state in SQLite (`state`) and the HTTP server (`server`).

May import `collector.core` and `collector.portable`.
"""
