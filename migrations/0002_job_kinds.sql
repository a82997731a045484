-- Jobs of more than one kind. A "transcode" job makes a message's video
-- and moves the message on (message.c's EV_JOB_DONE / EV_JOB_FAILED);
-- other kinds (a campaign's logo, a clip's ready-to-post version, a
-- reel) make something else and never change a message's state. Each
-- says what it makes in target (unique among live jobs of its kind) and
-- its parameters in args (JSON). SQLite cannot change a CHECK or an
-- index's WHERE in place, so the table is rebuilt; ids are kept.

CREATE TABLE jobs_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL DEFAULT 'transcode'
        CHECK (kind GLOB '[a-z]*' AND length(kind) <= 16),
    message_id TEXT REFERENCES messages(id) ON DELETE CASCADE,
    target TEXT CHECK (length(target) <= 200),
    args TEXT CHECK (length(args) <= 4000),
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done',
        'failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_after INTEGER NOT NULL,
    lease_until INTEGER,
    worker TEXT,
    progress REAL NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    seconds REAL, -- wall time of the successful attempt
    error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((state = 'running') = (lease_until IS NOT NULL)),
    CHECK (kind <> 'transcode' OR message_id IS NOT NULL)
);
INSERT INTO jobs_new (id, kind, message_id, state, attempts, run_after,
    lease_until, worker, progress, seconds, error, created_at, updated_at)
    SELECT id, kind, message_id, state, attempts, run_after, lease_until,
        worker, progress, seconds, error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_claim ON jobs(state, run_after, id);
CREATE INDEX jobs_lease ON jobs(state, lease_until);
CREATE INDEX jobs_message ON jobs(message_id, kind, id);
-- At most one live transcode per message, and one live job per thing
-- made.
CREATE UNIQUE INDEX jobs_live ON jobs(message_id)
    WHERE kind = 'transcode' AND state IN ('queued', 'running');
CREATE UNIQUE INDEX jobs_live_target ON jobs(kind, target)
    WHERE kind <> 'transcode' AND state IN ('queued', 'running');
