"""batch_debug.collector: turn recorded spans into job files, and read them back.

Pure analysis (records, findings, summary) plus the job-file store and its
retention. Imports nothing else of this project; not the OpenTelemetry Collector.
"""
