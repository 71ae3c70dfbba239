-- The active model of the model catalogue (issue 13, service/models.go):
-- the catalogue is configuration ([[models]]); which model is active is
-- data, so a switch needs no restart and survives one. Conventions as in
-- 00001.

-- +goose Up
-- One row at most: written at the first start with a catalogue, then by
-- each switch.
CREATE TABLE active_model (
    singleton  INTEGER PRIMARY KEY CHECK (singleton = 1),
    model_id   TEXT    NOT NULL,
    since      INTEGER NOT NULL,
    actor_type TEXT    NOT NULL,
    actor_id   TEXT    NOT NULL
);

-- +goose Down
DROP TABLE active_model;
