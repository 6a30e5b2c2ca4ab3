"""batch_debug.jellyfin"""
