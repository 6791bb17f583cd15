"""What motcua runs on: settings, the Temporal connection, tokens and keys, files kept on disk."""
