"""Language readers: the facts rules read from C (tree-sitter-c) and GNU assembly, independent of any rule pack."""
