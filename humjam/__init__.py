"""humjam: hum in, music out. The ``humjam`` command lives in ``humjam.cli``."""

__version__ = "0.1.0"
