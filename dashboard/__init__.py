"""batch_debug.dashboard"""
