"""The store's log published as C2SP tlog-tiles: static files any web server or object store
serves to witnesses, auditors or the provider, who then check inclusion and consistency
proofs themselves without asking the collector for anything.

May import `collector.core`, `collector.evidence`, `collector.portable` and
`collector.proving` (the stored checkpoints and their cosignatures).
"""
