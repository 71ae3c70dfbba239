-- The active model of the model catalogue (issue 13, service/models.go):
-- the catalogue is configuration ([[models]]); which model is active is
-- data, so a switch needs no restart and survives one.

-- +goose Up
-- One row at most: written at the first start with a catalogue, then by
-- each switch.
CREATE TABLE active_model (
    singleton  smallint    NOT NULL,
    model_id   text        NOT NULL,
    since      timestamptz NOT NULL,
    actor_type text        NOT NULL,
    actor_id   text        NOT NULL,
    CONSTRAINT active_model_pkey PRIMARY KEY (singleton),
    CONSTRAINT active_model_singleton_check CHECK (singleton = 1)
);

-- +goose Down
DROP TABLE active_model;
