-- The panel for 500 clips a day (issue #14): full-text search in every
-- script, claims on the clips being reviewed, the panel's language per
-- user, and an index for lists across every state. Written on top of
-- 0001-0005; it rebuilds the search index for the rows already there.

-- ---- search ---------------------------------------------------------------
-- What is searched, one row per message: its name, organization and
-- message (and, once the studio adds them, its transcripts: it replaces
-- this view with one that appends them, adds the same BEFORE/AFTER
-- triggers on its transcripts table, and runs 'rebuild'). unicode61 folds
-- case in every script and removes Latin diacritics; what it leaves, this
-- view folds: Latin letters with a stroke (Łódź is found as lodz) and ß,
-- the Russian ё as е (й, ў and ї stay letters of their own), Greek tonos, dialytika and the final sigma, Arabic harakat, tatweel
-- and the hamza forms of alef. search.c folds a query the same way
-- (tests/unit/test_search.c checks that the two agree).
CREATE VIEW message_search_source (doc, text) AS
SELECT doc,
    -- Greek (SQLite's parser takes some 25 nested calls: three layers).
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(
        t,
        char(0x03AC), char(0x03B1)),  -- ά α
        char(0x03AD), char(0x03B5)),  -- έ ε
        char(0x03AE), char(0x03B7)),  -- ή η
        char(0x03AF), char(0x03B9)),  -- ί ι
        char(0x03CC), char(0x03BF)),  -- ό ο
        char(0x03CD), char(0x03C5)),  -- ύ υ
        char(0x03CE), char(0x03C9)),  -- ώ ω
        char(0x03CA), char(0x03B9)),  -- ϊ ι
        char(0x03CB), char(0x03C5)),  -- ϋ υ
        char(0x0390), char(0x03B9)),  -- ΐ ι
        char(0x03B0), char(0x03C5)),  -- ΰ υ
        char(0x0386), char(0x0391)),  -- Ά Α
        char(0x0388), char(0x0395)),  -- Έ Ε
        char(0x0389), char(0x0397)),  -- Ή Η
        char(0x038A), char(0x0399)),  -- Ί Ι
        char(0x038C), char(0x039F)),  -- Ό Ο
        char(0x038E), char(0x03A5)),  -- Ύ Υ
        char(0x038F), char(0x03A9)),  -- Ώ Ω
        char(0x03AA), char(0x0399)),  -- Ϊ Ι
        char(0x03AB), char(0x03A5)),  -- Ϋ Υ
        char(0x03C2), char(0x03C3))   -- ς σ
FROM (SELECT doc,
    -- Arabic.
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(replace(
        t,
        char(0x0622), char(0x0627)),  -- آ ا
        char(0x0623), char(0x0627)),  -- أ ا
        char(0x0625), char(0x0627)),  -- إ ا
        char(0x0671), char(0x0627)),  -- ٱ ا
        char(0x064B), ''),            -- the harakat: fathatan...
        char(0x064C), ''),
        char(0x064D), ''),
        char(0x064E), ''),
        char(0x064F), ''),
        char(0x0650), ''),
        char(0x0651), ''),            -- shadda
        char(0x0652), ''),            -- ...sukun
        char(0x0670), ''),            -- superscript alef
        char(0x0640), '') AS t        -- tatweel
FROM (SELECT m.rowid AS doc,
    -- Latin and Cyrillic.
    replace(replace(replace(replace(replace(replace(replace(replace(replace(
    replace(replace(replace(replace(
        coalesce(m.name, '') || ' ' || coalesce(m.organization, '') || ' ' ||
        coalesce(m.message, ''),
        char(0x0141), 'L'), char(0x0142), 'l'),  -- Ł ł
        char(0x00D8), 'O'), char(0x00F8), 'o'),  -- Ø ø
        char(0x0110), 'D'), char(0x0111), 'd'),  -- Đ đ
        char(0x0126), 'H'), char(0x0127), 'h'),  -- Ħ ħ
        char(0x0166), 'T'), char(0x0167), 't'),  -- Ŧ ŧ
        char(0x00DF), 'ss'),                     -- ß
        char(0x0451), char(0x0435)),             -- ё е
        char(0x0401), char(0x0415)) AS t         -- Ё Е
    FROM messages m));

-- The index itself keeps no copy of the text (external content): the
-- words live in messages and in the index's segments only. Its rowid is
-- the message's rowid (messages has no INTEGER PRIMARY KEY: never VACUUM
-- the database, or run 'rebuild' after one). Prefixes of 2 and 3
-- characters are indexed for the search as one types.
CREATE VIRTUAL TABLE message_search USING fts5(text,
    content = 'message_search_source', content_rowid = 'doc',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');

-- Kept in sync by triggers. An external-content index is told what a
-- row held when it leaves: the BEFORE triggers read the view while it
-- still shows the old row, the AFTER ones once it shows the new one. A
-- withdrawal or a purge sets the fields to NULL: its words leave the
-- index here, and retention_checkpoint() merges the index's segments
-- ('optimize') so no segment keeps them, before it truncates the WAL.
CREATE TRIGGER message_search_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO message_search (rowid, text)
        SELECT doc, text FROM message_search_source WHERE doc = NEW.rowid;
END;
CREATE TRIGGER message_search_update_old
    BEFORE UPDATE OF name, organization, message ON messages
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', doc, text FROM message_search_source
        WHERE doc = OLD.rowid;
END;
CREATE TRIGGER message_search_update_new
    AFTER UPDATE OF name, organization, message ON messages
BEGIN
    INSERT INTO message_search (rowid, text)
        SELECT doc, text FROM message_search_source WHERE doc = NEW.rowid;
END;
CREATE TRIGGER message_search_delete BEFORE DELETE ON messages
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', doc, text FROM message_search_source
        WHERE doc = OLD.rowid;
END;

-- The rows from before: indexed once, into one segment.
INSERT INTO message_search (message_search) VALUES ('rebuild');
INSERT INTO message_search (message_search) VALUES ('optimize');

-- ---- lists across every state -------------------------------------------
-- status=all, newest or oldest first (the per-status lists keep theirs).
CREATE INDEX messages_created ON messages(created_at, id);

-- ---- claims ---------------------------------------------------------------
-- A pending clip a moderator has open, until a few minutes from the last
-- look (claim.c renews it): others see who, the next-clip key skips it,
-- and another moderator's decision waits for it (an admin's never does).
-- No personal data of the contributor: a panel user and a time. tab is
-- the page's own random token (the last page of the user to look holds
-- the claim): a page that closes lets go only of a claim it still holds,
-- never one that another of the same user's pages took since.
CREATE TABLE message_claims (
    message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    claimed_at INTEGER NOT NULL,
    until INTEGER NOT NULL,
    tab TEXT CHECK (tab IS NULL OR length(tab) BETWEEN 1 AND 64),
    CHECK (until > claimed_at)
) WITHOUT ROWID;
CREATE INDEX message_claims_user ON message_claims(user_id);

-- ---- the panel's language -------------------------------------------------
-- The language a user chose for the panel (a tag the panel has strings
-- for, checked by prefs.c); NULL: the browser's.
ALTER TABLE users ADD COLUMN language TEXT
    CHECK (language IS NULL OR length(language) BETWEEN 2 AND 8);
