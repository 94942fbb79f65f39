// Training module: implementation lands in its own commits.
