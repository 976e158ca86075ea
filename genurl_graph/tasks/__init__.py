"""Task wiring: each module only connects graphs/, similarity/, encoders/ and engine/ for a task."""
