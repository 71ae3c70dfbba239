-- The platform configuration operators change at run time (GET|PUT
-- /admin/config, issue 12): one JSON document per section.

-- +goose Up
-- A section without a row has its defaults (service/platformconfig.go).
CREATE TABLE platform_settings (
    section text  NOT NULL,
    doc     jsonb NOT NULL,
    CONSTRAINT platform_settings_pkey PRIMARY KEY (section)
);

-- +goose Down
DROP TABLE platform_settings;
