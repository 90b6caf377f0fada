-- stage_latest holds, per model and legacy stage, the row id of the
-- model's highest-numbered ready, undeleted version in that stage: MLflow's
-- latest_versions, four per registered model in a search page. Reading it
-- is one range of this small table per model and one row-id lookup per
-- version, instead of four correlated versions_stage descents per model
-- (Reader.LatestPerStage). internal/postgres/migrations answers the same
-- query natively fast and has no such table (its 0020 does nothing).
--
-- It is derived from versions alone, and the triggers below keep it true
-- in the transaction of every write to versions, whichever code writes
-- (the service, an import, the bulk seeder): each recomputes the
-- (model, stage) pairs a changed row left or entered, with one
-- versions_stage descent.
CREATE TABLE stage_latest (
    model_id   INTEGER NOT NULL,
    stage      TEXT    NOT NULL,
    version_id INTEGER NOT NULL,
    PRIMARY KEY (model_id, stage)
) WITHOUT ROWID;

-- SQLite takes a bare column of an aggregate query with max() from the
-- row holding the maximum: one pass over versions_stage.
INSERT INTO stage_latest (model_id, stage, version_id)
    SELECT model_id, stage, id FROM (
        SELECT model_id, stage, id, max(number) FROM versions
        WHERE status = 'ready' AND deleted_at IS NULL
        GROUP BY model_id, stage);

CREATE TRIGGER stage_latest_insert AFTER INSERT ON versions
WHEN NEW.status = 'ready' AND NEW.deleted_at IS NULL
BEGIN
    INSERT INTO stage_latest (model_id, stage, version_id)
        SELECT model_id, stage, id FROM versions
        WHERE model_id = NEW.model_id AND stage = NEW.stage AND status = 'ready' AND deleted_at IS NULL
        ORDER BY number DESC LIMIT 1
        ON CONFLICT (model_id, stage) DO UPDATE SET version_id = excluded.version_id;
END;

CREATE TRIGGER stage_latest_update AFTER UPDATE OF model_id, number, status, stage, deleted_at ON versions
WHEN OLD.model_id IS NOT NEW.model_id OR OLD.number IS NOT NEW.number OR OLD.status IS NOT NEW.status
    OR OLD.stage IS NOT NEW.stage OR OLD.deleted_at IS NOT NEW.deleted_at
BEGIN
    DELETE FROM stage_latest WHERE model_id = OLD.model_id AND stage = OLD.stage;
    INSERT INTO stage_latest (model_id, stage, version_id)
        SELECT model_id, stage, id FROM versions
        WHERE model_id = OLD.model_id AND stage = OLD.stage AND status = 'ready' AND deleted_at IS NULL
        ORDER BY number DESC LIMIT 1;
    DELETE FROM stage_latest WHERE model_id = NEW.model_id AND stage = NEW.stage;
    INSERT INTO stage_latest (model_id, stage, version_id)
        SELECT model_id, stage, id FROM versions
        WHERE model_id = NEW.model_id AND stage = NEW.stage AND status = 'ready' AND deleted_at IS NULL
        ORDER BY number DESC LIMIT 1;
END;

CREATE TRIGGER stage_latest_delete AFTER DELETE ON versions
BEGIN
    DELETE FROM stage_latest WHERE model_id = OLD.model_id AND stage = OLD.stage;
    INSERT INTO stage_latest (model_id, stage, version_id)
        SELECT model_id, stage, id FROM versions
        WHERE model_id = OLD.model_id AND stage = OLD.stage AND status = 'ready' AND deleted_at IS NULL
        ORDER BY number DESC LIMIT 1;
END;
