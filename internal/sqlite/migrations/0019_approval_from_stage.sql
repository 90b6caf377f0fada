-- from_stage: the stage the version was in when a stage transition's
-- approval request was opened (cairn.ApprovalRequest.FromStage), '' for
-- alias requests and for requests opened before it was recorded. A
-- transition out of a protected stage is gated too; the request is
-- invalidated if the version leaves from_stage meanwhile.
ALTER TABLE approval_requests ADD COLUMN from_stage TEXT NOT NULL DEFAULT '';
