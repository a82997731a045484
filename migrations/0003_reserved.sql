-- Reserved: other branches add migrations 0002 and 0003 (issues #12 and
-- #13). This empty placeholder only keeps the numbering contiguous on the
-- protection branch; delete it when the branches are merged (0004 is
-- correct on top of 0001 alone, whatever 0002 and 0003 hold).
SELECT 1;
