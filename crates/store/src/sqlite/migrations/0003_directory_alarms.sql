-- Alarm entities: one per SiPass alarm class (the Directory entity of kind "alarm" with the
-- same id), with who an alarm of it notifies and which partitions it belongs to. Recipients
-- are the default ones when the alarm entity was created and are never reapplied; partitions
-- follow the setting (reapplied to every alarm entity when it changes, which removes
-- partitions added by hand). Both are JSON arrays.
CREATE TABLE alarm_entities (
    id         TEXT    PRIMARY KEY,
    recipients TEXT    NOT NULL,
    partitions TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);
