-- The studio (issue #19, DESIGN.md "Studio"): a message's transcripts,
-- one per language, as timed cues. The contributor's own written message
-- stays in messages.message and is never changed by them. A withdrawn or
-- purged message's transcripts are deleted with it (message.c), and with
-- the row itself when it goes. Versions are jobs of kind 'version'
-- (0002): their target is "<message id>/<name>", their args the request.

CREATE TABLE transcripts (
    message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    lang TEXT NOT NULL CHECK (length(lang) BETWEEN 2 AND 35),
    -- [[start_ms, end_ms, "text"], ...], in order (captions.h).
    cues TEXT NOT NULL CHECK (length(cues) <= 400000),
    -- The cues' text joined by spaces: what search will index.
    text TEXT NOT NULL,
    -- Who timed the cues: Chorus from plain text, or the editor.
    timed_by TEXT NOT NULL CHECK (timed_by IN ('chorus', 'editor')),
    updated_by TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, lang)
);
