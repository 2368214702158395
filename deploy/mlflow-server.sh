#!/bin/sh
# The MLflow server behind MLflow's basic-auth app. Its users live in MLFLOW_AUTH_DATABASE_URI; on first start
# the admin account is created from MLFLOW_AUTH_ADMIN_USERNAME/PASSWORD (later starts keep the stored password).
# The backend store comes from MLFLOW_BACKEND_STORE_URI; other options pass through:
#   sh deploy/mlflow-server.sh --host 0.0.0.0 --port 5000 --artifacts-destination s3://mlflow/ --serve-artifacts
set -eu
: "${MLFLOW_BACKEND_STORE_URI:?}" "${MLFLOW_AUTH_DATABASE_URI:?}" "${MLFLOW_AUTH_ADMIN_USERNAME:?}"
: "${MLFLOW_AUTH_ADMIN_PASSWORD:?}" "${MLFLOW_FLASK_SERVER_SECRET_KEY:?}"
MLFLOW_AUTH_CONFIG_PATH="$(mktemp)"
export MLFLOW_AUTH_CONFIG_PATH
# the file is read with configparser's interpolation, so a "%" in the database URI is written as "%%"
cat >"$MLFLOW_AUTH_CONFIG_PATH" <<INI
[mlflow]
default_permission = READ
database_uri = $(printf '%s' "$MLFLOW_AUTH_DATABASE_URI" | sed 's/%/%%/g')
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
exec mlflow server --app-name basic-auth "$@"
