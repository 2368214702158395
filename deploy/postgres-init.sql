-- A second database on the same PostgreSQL for the MLflow server's tracking store and model registry.
CREATE DATABASE mlflow OWNER studio;
