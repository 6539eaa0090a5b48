-- When an erasure's rewrite of the warehouse files finished. NULL means pending: the record
-- is saved before the files are rewritten, so a crash in between leaves it NULL and the next
-- start (or the next erase) does the rewrite again. Records older than this column are
-- redone once, which finds nothing left to change when they had finished.
ALTER TABLE erasures ADD COLUMN done_at TIMESTAMPTZ;
