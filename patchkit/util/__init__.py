"""Small building blocks every layer uses: atomic writes, processes, signals, progress, locks,
strict YAML, the cache locations and store, output directories, the tools patchkit needs."""
