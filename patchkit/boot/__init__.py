"""Booting a built kernel in QEMU with a busybox initramfs and judging the console."""
