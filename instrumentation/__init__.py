"""batch_debug.instrumentation"""
