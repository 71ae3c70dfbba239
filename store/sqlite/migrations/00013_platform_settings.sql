-- The platform configuration operators change at run time (GET|PUT
-- /admin/config, issue 12): one JSON document per section. Conventions as
-- in 00001.

-- +goose Up
-- A section without a row has its defaults (service/platformconfig.go).
CREATE TABLE platform_settings (
    section TEXT PRIMARY KEY,
    doc     TEXT NOT NULL
);

-- +goose Down
DROP TABLE platform_settings;
