"""What makes the evidence hold against its own owner: signed checkpoints, consistency with
what was signed, proof files, trusted timestamps from an RFC 3161 authority, and the watch on
records dated earlier than the store (or a checkpoint) could have taken them.

May import `collector.core`, `collector.config`, `collector.probes` (how long an attempt may
take), `collector.evidence` and `collector.portable`.
"""
