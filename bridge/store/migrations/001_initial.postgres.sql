-- Initial schema: communities and their rosters, threads and posts with revisions, raw sources,
-- attachments and tags, the delivery outbox, ingest cursors, digest deliveries and settings.
-- Generated once from bridge/store/models.py by tortoise's schema generator (PostgreSQL), then tidied.

CREATE TABLE "community" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "slug" VARCHAR(100) NOT NULL UNIQUE,
    "name" VARCHAR(200) NOT NULL,
    "list_address" VARCHAR(320) NOT NULL UNIQUE,
    "room" VARCHAR(255) NOT NULL,
    "room_id" VARCHAR(255) UNIQUE,
    "time_zone" VARCHAR(64) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE "ingest_cursor" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "source_key" VARCHAR(255) NOT NULL UNIQUE,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE "person" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "display_name" VARCHAR(200) NOT NULL,
    "time_zone" VARCHAR(64),
    "created_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE "identity" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "kind" VARCHAR(16) NOT NULL,
    "address" VARCHAR(320) NOT NULL,
    "created_at" TIMESTAMPTZ NOT NULL,
    "person_id" INT NOT NULL REFERENCES "person" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_identity_kind_address" UNIQUE ("kind", "address")
);
CREATE INDEX "ix_identity_address" ON "identity" ("address");
CREATE INDEX "ix_identity_person" ON "identity" ("person_id");
CREATE TABLE "membership" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "role" VARCHAR(16) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "delivery" VARCHAR(16) NOT NULL,
    "digest_frequency" VARCHAR(16) NOT NULL,
    "time_zone" VARCHAR(64),
    "receive_own_posts" BOOL NOT NULL,
    "source" VARCHAR(16) NOT NULL,
    "bounce_score" DOUBLE PRECISION NOT NULL,
    "last_bounce_at" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    "person_id" INT NOT NULL REFERENCES "person" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_membership_community_person" UNIQUE ("community_id", "person_id")
);
CREATE INDEX "ix_membership_person" ON "membership" ("person_id");
CREATE TABLE "digest_delivery" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "period_start" TIMESTAMPTZ NOT NULL,
    "period_end" TIMESTAMPTZ NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "sent_at" TIMESTAMPTZ,
    "message_id" VARCHAR(998),
    "created_at" TIMESTAMPTZ NOT NULL,
    "membership_id" INT NOT NULL REFERENCES "membership" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_digest_delivery_membership_period_start_period_end" UNIQUE ("membership_id", "period_start", "period_end")
);
CREATE TABLE "setting" (
    "key" VARCHAR(200) NOT NULL PRIMARY KEY,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL
);
CREATE TABLE "tag" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "name" VARCHAR(64) NOT NULL,
    "label" VARCHAR(200) NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_tag_community_name" UNIQUE ("community_id", "name")
);
CREATE TABLE "thread" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "subject" VARCHAR(998) NOT NULL,
    "normalised_subject" VARCHAR(998) NOT NULL,
    "token" VARCHAR(32) NOT NULL UNIQUE,
    "created_at" TIMESTAMPTZ NOT NULL,
    "last_activity_at" TIMESTAMPTZ NOT NULL,
    "community_id" INT NOT NULL REFERENCES "community" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_thread_community_normalised_subject_last_activity_at" ON "thread" ("community_id", "normalised_subject", "last_activity_at");
CREATE TABLE "post" (
    "id" SERIAL NOT NULL PRIMARY KEY,
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
    "created_at" TIMESTAMPTZ NOT NULL,
    "received_at" TIMESTAMPTZ NOT NULL,
    "edited_at" TIMESTAMPTZ,
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
    "id" SERIAL NOT NULL PRIMARY KEY,
    "channel" VARCHAR(16) NOT NULL,
    "kind" VARCHAR(16) NOT NULL,
    "revision" INT NOT NULL,
    "recipient" VARCHAR(320) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "attempts" INT NOT NULL,
    "next_attempt_at" TIMESTAMPTZ NOT NULL,
    "not_before" TIMESTAMPTZ,
    "batch_key" VARCHAR(255),
    "last_error" TEXT,
    "remote_id" VARCHAR(998),
    "claimed_by" VARCHAR(255),
    "claimed_until" TIMESTAMPTZ,
    "created_at" TIMESTAMPTZ NOT NULL,
    "updated_at" TIMESTAMPTZ NOT NULL,
    "membership_id" INT REFERENCES "membership" ("id") ON DELETE SET NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_delivery_post_channel_kind_recipient_revision" UNIQUE ("post_id", "channel", "kind", "recipient", "revision")
);
CREATE INDEX "ix_delivery_batch_key" ON "delivery" ("batch_key");
CREATE INDEX "ix_delivery_state_next_attempt_at" ON "delivery" ("state", "next_attempt_at");
CREATE TABLE "post_revision" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "revision" INT NOT NULL,
    "origin_key" VARCHAR(998),
    "subject" VARCHAR(998),
    "body_text" TEXT NOT NULL,
    "body_html" TEXT,
    "created_at" TIMESTAMPTZ NOT NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_post_revision_post_revision" UNIQUE ("post_id", "revision"),
    CONSTRAINT "uq_post_revision_post_origin_key" UNIQUE ("post_id", "origin_key")
);
CREATE TABLE "post_tag" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE,
    "tag_id" INT NOT NULL REFERENCES "tag" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_post_tag_post_tag" UNIQUE ("post_id", "tag_id")
);
CREATE TABLE "raw_source" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "channel" VARCHAR(16) NOT NULL,
    "content_type" VARCHAR(100) NOT NULL,
    "data" BYTEA NOT NULL,
    "received_at" TIMESTAMPTZ NOT NULL,
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_raw_source_post" ON "raw_source" ("post_id");
CREATE TABLE "attachment" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "position" INT NOT NULL,
    "filename" VARCHAR(255) NOT NULL,
    "content_type" VARCHAR(255) NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" VARCHAR(64),
    "data" BYTEA,
    "url" VARCHAR(2048),
    "post_id" INT NOT NULL REFERENCES "post" ("id") ON DELETE CASCADE
);
CREATE INDEX "ix_attachment_post" ON "attachment" ("post_id");
CREATE TABLE "thread_tag" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "tag_id" INT NOT NULL REFERENCES "tag" ("id") ON DELETE CASCADE,
    "thread_id" INT NOT NULL REFERENCES "thread" ("id") ON DELETE CASCADE,
    CONSTRAINT "uq_thread_tag_thread_tag" UNIQUE ("thread_id", "tag_id")
);
