"""The TDX rule pack: the args structs, their asm-offsets, the assembly that loads and stores them, KVM's copies."""
