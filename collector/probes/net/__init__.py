"""The network plumbing under the probes: timed name resolution and one shared ICMP socket.

May import `collector.core` only, and ping3 for the packet format.
"""
