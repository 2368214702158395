#!/usr/bin/env bash
# First start of the studio's PostgreSQL: two more databases on it for the MLflow server, its tracking store and
# model registry (mlflow) and its basic-auth users (mlflow_auth). Run once by the image's entrypoint, with the
# server listening on its socket only.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE DATABASE mlflow OWNER "$POSTGRES_USER";
CREATE DATABASE mlflow_auth OWNER "$POSTGRES_USER";
SQL
