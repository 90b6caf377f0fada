-- origin: where an imported alias move was first made (cairn.MoveOrigin
-- JSON: system, ref, actor, at), NULL for a move made in Cairn. Written
-- once with the move, as the rest of the row.
ALTER TABLE alias_history ADD COLUMN origin JSONB;
