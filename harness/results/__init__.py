"""Results: the run-folder store, its typed column schema and the readers that parse by it."""
