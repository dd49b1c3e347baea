-- Monthly reports: one row per (team member, month) claims the report mail, so it goes out once
-- across restarts and processes; a lease taken over when its sender died, retries with backoff.

CREATE TABLE "report_mail" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "period_start" TIMESTAMP NOT NULL,
    "period_end" TIMESTAMP NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "claimed_by" VARCHAR(255),
    "claimed_until" TIMESTAMP,
    "attempts" INT NOT NULL DEFAULT 0,
    "message_id" VARCHAR(998),
    "sent_at" TIMESTAMP,
    "last_error" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "membership_id" INT NOT NULL REFERENCES "membership" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_report_mail_membership_period_start" UNIQUE ("membership_id", "period_start")
);
CREATE INDEX "ix_report_mail_community_state" ON "report_mail" ("community_id", "state");
