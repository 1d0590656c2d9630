"""Feature datasets, corpus readers and the batch contract."""
