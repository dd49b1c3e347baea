-- Membership state reason: why a membership is suspended (e.g. "bounces"), so clearing a member's
-- bounces restores only a suspension the bounces caused.

ALTER TABLE "membership" ADD COLUMN "state_reason" VARCHAR(32);
