"""The heavy half of slawitness: SLA engine, charts and report writers (pandas, matplotlib).

Imported only inside the report verbs, never on the cron path. It may import `collector`,
never `cli`:

    sla       periods, attribution, incidents, degradation, the evaluation
    sources   samples read from evidence stores or from Prometheus
    render    charts, HTML, PDF, CSV and letters from the summary
    bundle    the evidence bundle, the sealed month, the standalone verify.py

At the top level: `report_run` (one report or bundle end to end), `live` and `status` (the
current period's figures, judged with `sla_inputs`: the notes and correspondence the
report reads too), `period_alerts`, `complaint_file`, `worker_pool` (the processes
the render and the store scan share) and `report_text` (the fixed words the engine and the
renderer share).
"""
