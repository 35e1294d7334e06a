"""Booting a built kernel in QEMU with a busybox initramfs and judging the console."""

BOOT_TIMEOUT = 60.0  # seconds a boot may take before it counts as hung
ACCELERATORS = ("auto", "kvm", "tcg")  # auto: KVM when a probe boot shows it works, else TCG
