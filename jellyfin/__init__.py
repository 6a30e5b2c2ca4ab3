"""batch_debug.jellyfin: the Jellyfin simulator and the reference poster worker.

The simulator serves scripted faults over loopback; the worker is the batch
job the demo, the tests and the benchmark trace.
"""
