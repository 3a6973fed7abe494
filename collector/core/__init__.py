"""What every part of the collector shares: the probe `Result`, durations, the era evidence
can be dated in, and reading and writing the files a user names without surprises.

Standard library only (and `collector.core` itself): everything else builds on these.
"""
