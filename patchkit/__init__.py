"""patchkit: keep a kernel patch series as data; apply, lint, build, boot and mail it."""

__version__ = "0.1.0"
