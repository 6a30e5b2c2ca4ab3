"""batch_debug.collector"""
