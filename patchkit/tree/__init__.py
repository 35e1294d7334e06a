"""The kernel tree: the git runner, Debian's source packages, and the prepared base trees."""

DEFAULT_PACKAGE = "linux-source-6.1"  # the Debian source package a new series is based on
