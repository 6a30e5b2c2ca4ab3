"""batch_debug.dashboard: the Flask sidecar, its page and the batch-debug CLI.

Reads job files and the debug switch; never sits on a job's request path.
"""
