"""Notifications: which are due, decided from the store alone, and sending them through
apprise, each one chained as a note.

May import `collector.core`, `collector.config` and `collector.evidence`.
"""
