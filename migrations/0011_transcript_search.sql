-- Transcripts in the panel's full-text search (issue #19): what a clip
-- says, as its transcripts write it in every language, is found as its
-- name, organization and message are. Written on top of 0007_panel (the
-- index's folding and the messages' triggers), 0009_studio (the
-- transcripts table) and 0010_search_prefixes (the index, made again
-- over the same view by name); it rebuilds the index for the rows
-- already there.
--
-- The view the index reads gets one more part: the message's transcripts'
-- text (their cues joined; nothing at all without one, so such a row
-- reads as it did), in the order of their languages, so that the
-- text a trigger gives the index when a row leaves is exactly the text it
-- gave when the row came in (an external-content index removes words by
-- their positions). The folding is 0007's, unchanged: search.c's query
-- side still matches it.
DROP VIEW message_search_source;
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
        coalesce(m.message, '') ||
        coalesce(' ' || (SELECT group_concat(text, ' ') FROM
            (SELECT tr.text FROM transcripts tr WHERE tr.message_id = m.id
             ORDER BY tr.lang)), ''),
        char(0x0141), 'L'), char(0x0142), 'l'),  -- Ł ł
        char(0x00D8), 'O'), char(0x00F8), 'o'),  -- Ø ø
        char(0x0110), 'D'), char(0x0111), 'd'),  -- Đ đ
        char(0x0126), 'H'), char(0x0127), 'h'),  -- Ħ ħ
        char(0x0166), 'T'), char(0x0167), 't'),  -- Ŧ ŧ
        char(0x00DF), 'ss'),                     -- ß
        char(0x0451), char(0x0435)),             -- ё е
        char(0x0401), char(0x0415)) AS t         -- Ё Е
    FROM messages m));

-- A transcript's change is its message's document changing: the BEFORE
-- triggers take the document out while the view still shows the old
-- transcripts, the AFTER ones put it back as it now reads. A transcript
-- is saved as an upsert (INSERT ... ON CONFLICT DO UPDATE): SQLite fires
-- the BEFORE INSERT trigger first whichever way it goes, then either the
-- AFTER INSERT one (a new language) or the UPDATE ones (the same
-- language again); the BEFORE INSERT trigger acts only when no row is
-- there yet, so the document is taken out once. A message deleted with
-- its row takes its transcripts with it (ON DELETE CASCADE): its
-- document left with it (0007's trigger) and the view has no row for it
-- any more, so these find nothing to do.
CREATE TRIGGER transcript_search_insert_old BEFORE INSERT ON transcripts
    WHEN NOT EXISTS (SELECT 1 FROM transcripts
        WHERE message_id = NEW.message_id AND lang = NEW.lang)
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', doc, text FROM message_search_source
        WHERE doc = (SELECT rowid FROM messages WHERE id = NEW.message_id);
END;
CREATE TRIGGER transcript_search_insert_new AFTER INSERT ON transcripts
BEGIN
    INSERT INTO message_search (rowid, text)
        SELECT doc, text FROM message_search_source
        WHERE doc = (SELECT rowid FROM messages WHERE id = NEW.message_id);
END;
CREATE TRIGGER transcript_search_update_old
    BEFORE UPDATE OF message_id, lang, text ON transcripts
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', doc, text FROM message_search_source
        WHERE doc IN (SELECT rowid FROM messages
            WHERE id IN (OLD.message_id, NEW.message_id));
END;
CREATE TRIGGER transcript_search_update_new
    AFTER UPDATE OF message_id, lang, text ON transcripts
BEGIN
    INSERT INTO message_search (rowid, text)
        SELECT doc, text FROM message_search_source
        WHERE doc IN (SELECT rowid FROM messages
            WHERE id IN (OLD.message_id, NEW.message_id));
END;
CREATE TRIGGER transcript_search_delete_old BEFORE DELETE ON transcripts
BEGIN
    INSERT INTO message_search (message_search, rowid, text)
        SELECT 'delete', doc, text FROM message_search_source
        WHERE doc = (SELECT rowid FROM messages WHERE id = OLD.message_id);
END;
CREATE TRIGGER transcript_search_delete_new AFTER DELETE ON transcripts
BEGIN
    INSERT INTO message_search (rowid, text)
        SELECT doc, text FROM message_search_source
        WHERE doc = (SELECT rowid FROM messages WHERE id = OLD.message_id);
END;

-- The rows from before, transcripts included: indexed again, into one
-- segment.
INSERT INTO message_search (message_search) VALUES ('rebuild');
INSERT INTO message_search (message_search) VALUES ('optimize');
