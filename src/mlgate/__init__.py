"""mlgate: GitOps CI/CD for machine-learning repositories.

Layers (highest first; a module imports only from its own package and from lower lines):

  __main__.py                  python -m mlgate
  cli.py                       face: argparse -> typed call -> exit code; the only printer
  api.py  progress.py          library facade (typed, no printing); progress on a terminal
  commands/                    a module per subcommand: check ci publish promote history
                                 init data validate serve monitor site (site and ui);
                                 prepush (check --pre-push), hooks (init --hooks /
                                 --git-hook), matrix (many models)
  run/                         sides, workspace, worker process and fork server,
                                 command mode, run cache, git notes, noise intervals,
                                 changes, data drift, the models a change touches
                                 (plan), the scoring protocol and server, the Dask
                                 cluster to train on
  render/  interop/  forge/    report, headline, card, history, monitor, combined,
                                 templates, site pages, svg charts |
                                 MLflow | GitHub, GitLab, CI environment, poster, Actions
                                 files, alerts
  storage/                     cache layout, files, hashing, objects, cloud buckets,
                                 backends, fetch, pointers, data sources, stat cache,
                                 formats, DVC, model files, installed versions
  core/                        pure: config, list of models, metrics, gate, diffs,
                                 results, run record, production format, units, paired
                                 bootstrap, repeats, changes, data drift, monitor result
                                 and rules
  git.py  http.py              the boundaries to git and to HTTP
  paths.py                     repository-relative paths
  errors.py                    the error tree and exit codes

Heavy libraries (pandas, scikit-learn, skops, jinja2, jsonschema, requests, mlflow,
starlette, uvicorn, obstore, distributed) are imported where they are used, so
``mlgate --help`` and a warm check stay fast.
"""

__version__ = "0.1.0"
