"""The `slawitness` command: every verb, its options, and the one boundary where errors end.

A verb parses its arguments, calls the packages that do the work and prints; it holds no
pipeline of its own. This is the only package that joins the light half (`collector`) and
the heavy half (`reports`): a verb that needs the SLA engine imports it inside the verb, so
`slawitness probe` from cron never loads pandas or matplotlib. May import `collector` and,
inside a verb, `reports`; nothing imports `cli`.
"""
