-- The activity trail: every command sent to SiPass from here (the "SiPass activity trails"
-- report), with who sent it, from where, and how it ended. Every column is filled, always:
-- the CHECKs refuse a row with an empty one rather than keep a trail with holes.
CREATE TABLE activity (
    id                  INTEGER PRIMARY KEY,
    at_ms               INTEGER NOT NULL,
    at                  TEXT    NOT NULL CHECK (at <> ''),
    -- The entity commanded, with its kind and name at the time.
    entity_id           TEXT    NOT NULL CHECK (entity_id <> ''),
    entity_kind         TEXT    NOT NULL CHECK (entity_kind <> ''),
    entity_name         TEXT    NOT NULL CHECK (entity_name <> ''),
    -- The command's stable name (e.g. allow-access) and its label (e.g. Allow access).
    activity            TEXT    NOT NULL CHECK (activity <> ''),
    activity_label      TEXT    NOT NULL CHECK (activity_label <> ''),
    application         TEXT    NOT NULL CHECK (application <> ''),
    application_version TEXT    NOT NULL CHECK (application_version <> ''),
    machine             TEXT    NOT NULL CHECK (machine <> ''),
    user_name           TEXT    NOT NULL CHECK (user_name <> ''),
    -- succeeded, not-supported, unit-offline, not-connected, failed, ...
    outcome             TEXT    NOT NULL CHECK (outcome <> ''),
    -- SiPass's result, or the error, in words.
    message             TEXT    NOT NULL CHECK (message <> '')
);
CREATE INDEX activity_by_entity ON activity (entity_id, id);
CREATE INDEX activity_by_time ON activity (at_ms);
