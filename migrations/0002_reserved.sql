-- Reserved: issue #12 (hardening) adds migration 0002 on its branch. This
-- empty placeholder only keeps the numbering contiguous on the retention
-- branch; delete it when the two branches are merged (0003 is correct on
-- top of 0001 alone, whatever 0002 holds).
SELECT 1;
