"""Client adapters and the switchboard that routes their calls to the running test.

The patches are installed once per pytest session and stay thin: with no
test running (or the plugin inactive) they call straight through.
"""
