"""Placeholder until the rig module lands."""
