"""The test rig: real servers and hosts that the tests break on purpose."""
