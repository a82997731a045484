-- Retention and withdrawal (DESIGN.md): what became of a message's files
-- while its row stays, the comms team's take-down marks, and the scheme
-- of the audit chain. Correct on top of 0001 alone.

-- The day a message's files (original, video, thumbnail, versions) were
-- deleted while its row stays, and why: the retention of failed and
-- rejected clips, an admin's "delete now", or `chorus purge` (which also
-- clears the personal fields).
ALTER TABLE messages ADD COLUMN media_deleted_at INTEGER;
ALTER TABLE messages ADD COLUMN media_deleted_why TEXT
    CHECK (media_deleted_why IN ('retention', 'admin', 'purge'));
-- A withdrawn clip the team had used: the day comms confirmed that
-- nothing of it is left to take down (one exported but never marked as
-- reshared has no post to mark).
ALTER TABLE messages ADD COLUMN takedown_at INTEGER;
-- Each post of a withdrawn clip, marked taken down by the comms team.
ALTER TABLE reshares ADD COLUMN taken_down_at INTEGER;
ALTER TABLE reshares ADD COLUMN taken_down_by INTEGER REFERENCES users(id);

-- The retention sweep: failed and rejected messages that still have
-- files, oldest change first.
CREATE INDEX messages_retention ON messages(status, updated_at)
    WHERE media_deleted_at IS NULL;

-- The scheme of the audit chain. 0001's rows are chained with plain
-- SHA-256, which anyone can recompute; start-up (audit.c) verifies them
-- under that scheme and re-chains them with HMAC-SHA-256 under
-- data/audit.key in one transaction (the triggers forbid an UPDATE of
-- audit rows in SQL, so C does it). An empty log starts keyed.
CREATE TABLE audit_scheme (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    scheme TEXT NOT NULL CHECK (scheme IN ('sha256', 'hmac-sha256'))
);
INSERT INTO audit_scheme (id, scheme)
    SELECT 1, CASE WHEN EXISTS (SELECT 1 FROM audit) THEN 'sha256'
        ELSE 'hmac-sha256' END;
