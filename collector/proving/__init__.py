"""What makes the evidence hold against its own owner: signed checkpoints, consistency with
what was signed, proof files, and trusted timestamps from an RFC 3161 authority.

May import `collector.core`, `collector.config`, `collector.evidence` and `collector.portable`.
"""
