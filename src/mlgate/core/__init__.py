"""The pure core: config, metrics, gate, diffs, results and run records, the production
branch format. No I/O beyond reading a config it is handed."""
