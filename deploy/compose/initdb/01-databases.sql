-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d).
-- One database per service (ARCHITECTURE.md); each service runs its own Alembic migrations.
CREATE DATABASE registry;
CREATE DATABASE training;
CREATE DATABASE certification;
CREATE DATABASE funding;
CREATE DATABASE dashboard;
