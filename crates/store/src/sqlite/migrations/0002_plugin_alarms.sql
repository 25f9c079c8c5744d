-- Alarms: each SiPass alarm instance the role triggered, its history, the acknowledgements
-- made here waiting for SiPass (the offline acknowledgement queue) and the webhook's outbox.
-- Alarm changes come through the same journal as events and are written in the same
-- transaction as the journal position, so that each is applied exactly once.

-- One row per SiPass alarm instance, unique on SiPass's alarm id: an alarm seen both in
-- SiPass's active list (at connection) and in the journal is triggered once. `class_id` is
-- the alarm entity (SiPass's alarm class token) whose recipients and partitions apply.
-- Active, as in SiPass's alarm queue: until both acknowledged and cleared.
CREATE TABLE alarms (
    id              INTEGER PRIMARY KEY,
    sipass_id       TEXT    NOT NULL UNIQUE,
    class_id        TEXT    NOT NULL,
    class_name      TEXT    NOT NULL,
    priority        INTEGER NOT NULL,
    message         TEXT    NOT NULL,
    source_kind     TEXT    NOT NULL,
    source_id       TEXT    NOT NULL,
    triggered_at    TEXT    NOT NULL,
    triggered_ms    INTEGER NOT NULL,
    -- When the role triggered it (Unix ms): the delay from SiPass is recorded_ms - triggered_ms.
    recorded_ms     INTEGER NOT NULL,
    acknowledged    INTEGER NOT NULL DEFAULT 0,
    acknowledged_by TEXT    NOT NULL DEFAULT '',
    acknowledged_at TEXT    NOT NULL DEFAULT '',
    ack_comment     TEXT    NOT NULL DEFAULT '',
    cleared         INTEGER NOT NULL DEFAULT 0,
    cleared_at      TEXT    NOT NULL DEFAULT '',
    active          INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX alarms_active ON alarms (active, id);

-- What happened to each alarm: triggered, acknowledged, cleared; by whom, with what comment,
-- when, and where it was done ("sipass" or "here"). `journal_seq` is the journal entry it
-- came from (0 when from SiPass's active list or done here).
CREATE TABLE alarm_history (
    id          INTEGER PRIMARY KEY,
    alarm_id    INTEGER NOT NULL REFERENCES alarms (id),
    action      TEXT    NOT NULL,
    by_user     TEXT    NOT NULL,
    comment     TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    at_ms       INTEGER NOT NULL,
    origin      TEXT    NOT NULL,
    journal_seq INTEGER NOT NULL
);
CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm_id, id);

-- Acknowledgements made here, in order, until the proxy confirmed SiPass took them: written
-- with the acknowledgement itself, removed only after the confirmation, so that one made
-- while the proxy is down is sent after it returns (SiPass's acknowledgement is idempotent,
-- so a confirmation lost on the way costs a repeat, never a loss).
CREATE TABLE alarm_ack_queue (
    id         INTEGER PRIMARY KEY,
    alarm_id   INTEGER NOT NULL UNIQUE REFERENCES alarms (id),
    sipass_id  TEXT    NOT NULL,
    operator   TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    queued_ms  INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT ''
);

-- Alarm changes for the webhook, each with a sequence number the receiver deduplicates on
-- (AUTOINCREMENT: never reused), kept until delivered. Written only while a webhook is set.
CREATE TABLE alarm_outbox (
    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
    body     TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);
