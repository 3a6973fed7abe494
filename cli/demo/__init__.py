"""`slawitness demo`: a whole SLA case, offline, on loopback services that fail on cue.

The demo is a user of the whole program, as a verb is, so it lives beside the verbs and may
import what they may.
"""
