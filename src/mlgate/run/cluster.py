"""Which Dask cluster a side trains on: ``model.backend.dask`` or ``MLGATE_DASK_ADDRESS``.

The environment variable wins over the config: the config is the pull request's, the
environment is whoever runs mlgate (a CI operator picks the cluster; a PR cannot move a
run the operator pinned). Pointing training at a cluster of the PR's choice gives a PR
nothing it does not have already, since training runs the PR's code. The child side (the
connection and ``joblib.parallel_backend("dask")``) is in run.fit; distributed is
imported only there, only when a cluster is set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mlgate.core.config import DASK_ADDRESS, Config, DaskBackend
from mlgate.errors import UsageError

ENV = "MLGATE_DASK_ADDRESS"


def backend(cfg: Config, environ: Mapping[str, str] | None = None) -> DaskBackend | None:
    """The cluster ``cfg``'s model trains on, None for this machine; UsageError (exit 2)
    for an ``MLGATE_DASK_ADDRESS`` that is not a scheduler address."""
    env = os.environ if environ is None else environ
    configured = cfg.model.dask
    address = env.get(ENV, "").strip()
    if not address:
        return configured
    if not DASK_ADDRESS.match(address) or len(address) > 255:
        # Not echoed: a mistaken value (a URL with a password) must not reach the logs.
        raise UsageError(
            f"{ENV} is not a Dask scheduler address: expected tcp:// or tls://, a host "
            "and a port, like tcp://scheduler.internal:8786"
        )
    timeout = configured.timeout if configured is not None else DaskBackend(address).timeout
    return DaskBackend(address, timeout)
