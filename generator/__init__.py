"""Generator: worker processes that claim jobs from the queue and render audio.

Nothing heavy is imported here; backends load lazily through ``generator.backends.get_backend``.
"""
