"""The config file: its typed model, the loader that turns every mistake into one line, the
secrets it may name, the SLA terms it states, and the reference written from the models.

May import `collector.core`, `collector.probes` (the registry validates each probe's
settings) and `collector.portable` (a witness's key is parsed at load); nothing that runs,
stores or serves. `secrets` (with `secret_forms`) imports `collector.core` alone, so a probe
module may read a secret without importing the config.
"""
