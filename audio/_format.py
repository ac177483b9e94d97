"""Human-friendly numbers for user-facing messages ("42 minutes", "25 MB")."""

from __future__ import annotations


def duration(seconds: float) -> str:
    """Round a duration the way a person would say it."""
    if seconds < 90:
        # One decimal, so 60.4 s is not shown as the 60 s limit it broke; "60.0" reads as "60".
        text = f"{seconds:.1f}"
        return f"{text.removesuffix('.0')} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    hours = seconds / 3600
    return f"{hours:.0f} hours" if hours >= 1.5 else "an hour"


def size(n_bytes: int) -> str:
    """Sizes in MB as Discord shows them (MiB, called MB)."""
    mib = n_bytes / (1024 * 1024)
    if mib >= 10:
        return f"{mib:.0f} MB"
    if mib >= 0.1:
        return f"{mib:.1f} MB"
    return f"{n_bytes / 1024:.0f} KB"
