"""A series on a tree: the apply engine, its record under $GIT_DIR/patchkit, recovery,
the states of an applied series and whether they still match the data, rebasing onto a new base."""
