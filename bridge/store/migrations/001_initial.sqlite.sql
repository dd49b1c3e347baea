-- Initial schema: communities and their rosters, threads and posts with revisions, raw sources,
-- attachments and tags, the delivery outbox, ingest cursors, digest deliveries and settings.
-- Generated once from bridge/store/models.py by tortoise's schema generator (SQLite), then tidied.

CREATE TABLE "community" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "slug" VARCHAR(100) NOT NULL UNIQUE,
    "name" VARCHAR(200) NOT NULL,
    "list_address" VARCHAR(320) NOT NULL UNIQUE,
    "room" VARCHAR(255) NOT NULL,
    "room_id" VARCHAR(255) UNIQUE,
    "time_zone" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "ingest_cursor" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "source_key" VARCHAR(255) NOT NULL UNIQUE,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "person" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "display_name" VARCHAR(200) NOT NULL,
    "time_zone" VARCHAR(64),
    "created_at" TIMESTAMP NOT NULL
);
CREATE TABLE "identity" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "address" VARCHAR(320) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "person_id" INT NOT NULL REFERENCES "person" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_identity_kind_address" UNIQUE ("kind", "address")
);
CREATE INDEX "ix_identity_address" ON "identity" ("address");
CREATE INDEX "ix_identity_person" ON "identity" ("person_id");
CREATE TABLE "membership" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "role" VARCHAR(16) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "delivery" VARCHAR(16) NOT NULL,
    "digest_frequency" VARCHAR(16) NOT NULL,
    "time_zone" VARCHAR(64),
    "receive_own_posts" INT NOT NULL,
    "source" VARCHAR(16) NOT NULL,
    "bounce_score" REAL NOT NULL,
    "last_bounce_at" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "person_id" INT NOT NULL REFERENCES "person" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_membership_community_person" UNIQUE ("community_id", "person_id")
);
CREATE INDEX "ix_membership_person" ON "membership" ("person_id");
CREATE TABLE "digest_delivery" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "period_start" TIMESTAMP NOT NULL,
    "period_end" TIMESTAMP NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "sent_at" TIMESTAMP,
    "message_id" VARCHAR(998),
    "created_at" TIMESTAMP NOT NULL,
    "membership_id" INT NOT NULL REFERENCES "membership" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_digest_delivery_membership_period_start_period_end" UNIQUE ("membership_id", "period_start", "period_end")
);
CREATE TABLE "setting" (
    "key" VARCHAR(200) NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMP NOT NULL
);
CREATE TABLE "tag" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "name" VARCHAR(64) NOT NULL,
    "label" VARCHAR(200) NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_tag_community_name" UNIQUE ("community_id", "name")
);
CREATE TABLE "thread" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "subject" VARCHAR(998) NOT NULL,
    "normalised_subject" VARCHAR(998) NOT NULL,
    "token" VARCHAR(32) NOT NULL UNIQUE,
    "created_at" TIMESTAMP NOT NULL,
    "last_activity_at" TIMESTAMP NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_thread_community_normalised_subject_last_activity_at" ON "thread" ("community_id", "normalised_subject", "last_activity_at");
CREATE TABLE "post" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "author_name" VARCHAR(200) NOT NULL,
    "author_address" VARCHAR(320) NOT NULL,
    "origin_channel" VARCHAR(16) NOT NULL,
    "origin_key" VARCHAR(998) NOT NULL,
    "matrix_event_id" VARCHAR(255),
    "email_message_id" VARCHAR(998),
    "subject" VARCHAR(998),
    "body_text" TEXT NOT NULL,
    "body_html" TEXT,
    "full_text" TEXT,
    "state" VARCHAR(16) NOT NULL,
    "created_at" TIMESTAMP NOT NULL,
    "received_at" TIMESTAMP NOT NULL,
    "edited_at" TIMESTAMP,
    "reaction_count" INT NOT NULL,
    "author_id" INT REFERENCES "person" ("id") ON DELETE SET NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "parent_id" INT REFERENCES "post" ("id") ON DELETE SET NULL,
    "thread_id" INT NOT NULL REFERENCES "thread" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_post_community_origin_key" UNIQUE ("community_id", "origin_key"),
    CONSTRAINT "uq_post_community_matrix_event_id" UNIQUE ("community_id", "matrix_event_id"),
    CONSTRAINT "uq_post_community_email_message_id" UNIQUE ("community_id", "email_message_id")
);
CREATE INDEX "ix_post_thread" ON "post" ("thread_id");
CREATE TABLE "delivery" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "revision" INT NOT NULL,
    "recipient" VARCHAR(320) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMP NOT NULL,
    "not_before" TIMESTAMP,
    "batch_key" VARCHAR(255),
    "last_error" TEXT,
    "remote_id" VARCHAR(998),
    "claimed_by" VARCHAR(255),
    "claimed_until" TIMESTAMP,
    "created_at" TIMESTAMP NOT NULL,
    "updated_at" TIMESTAMP NOT NULL,
    "membership_id" INT REFERENCES "membership" ("id") ON DELETE SET NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_delivery_post_channel_kind_recipient_revision" UNIQUE ("post_id", "channel", "kind", "recipient", "revision")
);
CREATE INDEX "ix_delivery_batch_key" ON "delivery" ("batch_key");
CREATE INDEX "ix_delivery_state_next_attempt_at" ON "delivery" ("state", "next_attempt_at");
CREATE TABLE "post_revision" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "revision" INT NOT NULL,
    "origin_key" VARCHAR(998),
    "subject" VARCHAR(998),
    "body_text" TEXT NOT NULL,
    "body_html" TEXT,
    "created_at" TIMESTAMP NOT NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_post_revision_post_revision" UNIQUE ("post_id", "revision"),
    CONSTRAINT "uq_post_revision_post_origin_key" UNIQUE ("post_id", "origin_key")
);
CREATE TABLE "post_tag" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    "tag_id" INT NOT NULL REFERENCES "tag" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_post_tag_post_tag" UNIQUE ("post_id", "tag_id")
);
CREATE TABLE "raw_source" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "channel" VARCHAR(16) NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "data" BLOB NOT NULL,
    "received_at" TIMESTAMP NOT NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_raw_source_post" ON "raw_source" ("post_id");
CREATE TABLE "attachment" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "position" INT NOT NULL,
    "filename" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(255) NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" VARCHAR(64),
    "data" BLOB,
    "url" VARCHAR(2048),
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_attachment_post" ON "attachment" ("post_id");
CREATE TABLE "thread_tag" (
    "id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    "tag_id" INT NOT NULL REFERENCES "tag" ("id") ON DELETE CASCADE,
    "thread_id" INT NOT NULL REFERENCES "thread" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_thread_tag_thread_tag" UNIQUE ("thread_id", "tag_id")
);
