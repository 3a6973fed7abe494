"""The heavy half of slawitness: SLA engine, charts and report writers (pandas, matplotlib).

Imported only by the report verbs, never on the cron path.
"""
