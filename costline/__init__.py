"""The shell around the worker and the read side: CLI, SDK, configuration and clients."""
