"""Where findings show on GitHub: locations in the series files, workflow annotations, the job summary."""
