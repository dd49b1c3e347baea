-- Digests: one digest per reader and slot (the slot is the period's end), claimed with a lease so a
-- crashed sender's claim is taken over; readers' followed tags; "was this useful?" answers; when a
-- reader's subscription began (a pending self-subscription becomes active when it is confirmed).

ALTER TABLE "digest_delivery" ADD COLUMN "claimed_by" VARCHAR(255);
ALTER TABLE "digest_delivery" ADD COLUMN "claimed_until" TIMESTAMP;
ALTER TABLE "digest_delivery" ADD COLUMN "attempts" INT NOT NULL DEFAULT 0;
ALTER TABLE "digest_delivery" ADD COLUMN "last_error" TEXT;
CREATE UNIQUE INDEX "uq_digest_delivery_membership_period_end" ON "digest_delivery" ("membership_id", "period_end");

ALTER TABLE "membership" ADD COLUMN "subscribed_at" TIMESTAMP;

CREATE TABLE "followed_tag" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "tag" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "membership_id" INT NOT NULL REFERENCES "membership" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_followed_tag_membership_tag" UNIQUE ("membership_id", "tag")
);

CREATE TABLE "digest_feedback" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "useful" INT NOT NULL,
    "answered_at" TIMESTAMP NOT NULL,
    "digest_id" INT NOT NULL UNIQUE REFERENCES "digest_delivery" ("id") ON DELETE CASCADE
);
