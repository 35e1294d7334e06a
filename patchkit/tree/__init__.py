"""The kernel tree: the git runner, Debian's source packages, and the prepared base trees."""
