"""The sample and its files: the one row schema, the shard format (reader, writer, manifest) and
the one text normalisation. Everything else in mixkit stands on these; they import nothing of it."""
