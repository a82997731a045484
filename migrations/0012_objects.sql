-- Object storage (--storage s3://, DESIGN.md "Scale"): the messages whose
-- objects in the bucket must go. A row is written in the same
-- transaction as the event that deletes a message's files (withdrawal,
-- retention, purge; message.c), so no deletion is ever forgotten, and it
-- stays until the sweep (objstore.c) has listed media/<id>/ in the bucket
-- and deleted every object there; a failed try waits a little longer
-- each time (next_at) and is tried again until it succeeds. Without
-- --storage the server's sweep clears these rows: there is no bucket.
CREATE TABLE object_deletions (
    message_id TEXT PRIMARY KEY,
    since INTEGER NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0,
    -- Bumped by every new record of the same message (objects copied in
    -- after a deletion began): the sweep removes the row only if it did
    -- not change while it deleted.
    gen INTEGER NOT NULL DEFAULT 0,
    next_at INTEGER NOT NULL,
    -- What the store said at the last failed try (no secret in it).
    error TEXT
);
