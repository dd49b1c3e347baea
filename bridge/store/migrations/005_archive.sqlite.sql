-- Archive: tags carry a description, and who or what filed a thread or post under a tag and when;
-- practices are threads the community keeps, with a title and a summary the core team writes.

ALTER TABLE "tag" ADD COLUMN "description" TEXT NOT NULL DEFAULT '';

ALTER TABLE "thread_tag" ADD COLUMN "source" VARCHAR(16) NOT NULL DEFAULT 'hashtag';
ALTER TABLE "thread_tag" ADD COLUMN "applied_by" VARCHAR(320);
ALTER TABLE "thread_tag" ADD COLUMN "applied_at" TIMESTAMP;
CREATE INDEX "ix_thread_tag_tag" ON "thread_tag" ("tag_id");

ALTER TABLE "post_tag" ADD COLUMN "source" VARCHAR(16) NOT NULL DEFAULT 'hashtag';
ALTER TABLE "post_tag" ADD COLUMN "applied_by" VARCHAR(320);
ALTER TABLE "post_tag" ADD COLUMN "applied_at" TIMESTAMP;
CREATE INDEX "ix_post_tag_tag" ON "post_tag" ("tag_id");

CREATE TABLE "practice" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "title" VARCHAR(998) NOT NULL,
    "summary" TEXT NOT NULL DEFAULT '',
    "state" VARCHAR(16) NOT NULL DEFAULT 'proposed',
    "proposed_by" VARCHAR(320),
    "confirmed_by" VARCHAR(320),
    "created_at" TIMESTAMP NOT NULL,
    "confirmed_at" TIMESTAMP,
    "updated_at" TIMESTAMP NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "thread_id" INT NOT NULL UNIQUE REFERENCES "thread" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_practice_community_state" ON "practice" ("community_id", "state");
