"""The light half of slawitness: probes, scheduler, evidence store, exporter and CLI.

Nothing under this package may import pandas, matplotlib or numpy: a cron round must stay
cheap enough to run every minute on the smallest VPS.
"""

__version__ = "0.1.0"
