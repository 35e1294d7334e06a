"""Running patchkit on GitHub Actions: the job matrix, findings mapped onto the series files, job summaries."""
