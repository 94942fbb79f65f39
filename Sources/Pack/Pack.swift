// Pack module: implementation lands in its own commits.
