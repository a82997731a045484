-- Identity protection (issue #16, DESIGN.md "Identity protection"): what
-- the contributor asked for, whether a moderator should check that it
-- worked, and a rejection's reason code (today only "protection_failed":
-- the receipt then offers to send the clip again). Written on top of
-- 0001 alone; it touches nothing a later change to messages needs.

-- The protections asked for, as meta.c stores them: names in a fixed
-- order, comma-separated; NULL when none.
ALTER TABLE messages ADD COLUMN protect TEXT CHECK (protect IS NULL OR
    protect IN ('blur_faces', 'voice', 'no_video', 'blur_faces,voice',
        'blur_faces,no_video', 'voice,no_video',
        'blur_faces,voice,no_video'));

-- Set by the worker: blur_faces found no face, or faces came and went.
ALTER TABLE messages ADD COLUMN check_protection INTEGER NOT NULL DEFAULT 0
    CHECK (check_protection IN (0, 1));

-- Why a rejected message was rejected, as a code the receipt can act on.
ALTER TABLE messages ADD COLUMN decision_code TEXT CHECK (decision_code IS
    NULL OR decision_code IN ('protection_failed'));
