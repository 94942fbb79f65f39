// Layout module: implementation lands in its own commits.
