-- Alarm entities: one per SiPass alarm class, with its recipients (set once, from the
-- defaults when created) and partitions (following the setting); both JSON arrays.
CREATE TABLE alarm_entities (
    id         TEXT   PRIMARY KEY,
    recipients TEXT   NOT NULL,
    partitions TEXT   NOT NULL,
    created_ms BIGINT NOT NULL
);
