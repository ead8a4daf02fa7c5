"""Running sides: what base and head are, their workspace, the worker process, command
mode, the run cache and the results shared as git notes."""
