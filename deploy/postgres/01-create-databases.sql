-- Run once by the postgres image on an empty data directory
-- (mounted at /docker-entrypoint-initdb.d by docker-compose.yml).
-- One database per service: a service never reads another service's database.
-- Each service creates its own tables (Alembic migrations) at start-up.
CREATE DATABASE auth;
CREATE DATABASE vehicles;
CREATE DATABASE telematics;
CREATE DATABASE appointments;
CREATE DATABASE engagement;
CREATE DATABASE chat;
CREATE DATABASE files;
