"""What every part of the collector shares: the probe `Result`, durations, the era evidence
can be dated in, and reading and writing the files a user names without surprises.

Imports the standard library only (and `collector.core` itself): everything else builds on
these, so they can depend on nothing.
"""
