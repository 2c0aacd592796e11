"""Jobs: jobs, their runs (queued, running, terminated), one-time runs and run output."""
