-- The outbox's entries: envelope, delivery state, and the lease of the
-- runner that holds one. A lease is free when lease_token is NULL.
CREATE TABLE smtpkit_outbox_entries (
	id           text PRIMARY KEY,
	envelope     jsonb NOT NULL,
	recipients   jsonb NOT NULL,
	size         bigint NOT NULL,
	chunk_size   integer NOT NULL,
	created      timestamptz NOT NULL,
	attempts     integer NOT NULL DEFAULT 0,
	next_attempt timestamptz NOT NULL,
	last_error   text NOT NULL DEFAULT '',
	doubts       integer NOT NULL DEFAULT 0,
	lease_token  text,
	lease_holder integer,     -- the backend PID of the holder's own session, whose advisory lock says it lives
	lease_until  timestamptz
);

-- Claim's scan: the free entries, in the order they fall due.
CREATE INDEX smtpkit_outbox_entries_due ON smtpkit_outbox_entries (next_attempt, id) WHERE lease_token IS NULL;
-- The rescue's scan: the leased entries.
CREATE INDEX smtpkit_outbox_entries_leased ON smtpkit_outbox_entries (lease_holder) WHERE lease_token IS NOT NULL;

-- The messages, in rows of chunk_size bytes (the last one shorter). A long
-- message is copied in before its entry is inserted: the reference is
-- checked at the commit.
CREATE TABLE smtpkit_outbox_chunks (
	entry_id text NOT NULL REFERENCES smtpkit_outbox_entries (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
	seq      integer NOT NULL,
	data     bytea NOT NULL,
	PRIMARY KEY (entry_id, seq)
);

-- The keys of EnqueueOnce: a message queued under a key is queued once
-- for as long as its key is kept.
CREATE TABLE smtpkit_outbox_keys (
	key      text PRIMARY KEY,
	entry_id text NOT NULL,
	created  timestamptz NOT NULL
);
CREATE INDEX smtpkit_outbox_keys_created ON smtpkit_outbox_keys (created);

-- A token bucket per destination: the messages that may start now.
CREATE TABLE smtpkit_outbox_rates (
	destination text PRIMARY KEY,
	tokens      double precision NOT NULL,
	updated     timestamptz NOT NULL
);

-- The connection slots of each destination; a slot is free when holder is NULL.
CREATE TABLE smtpkit_outbox_slots (
	destination text NOT NULL,
	slot        integer NOT NULL,
	holder      integer,
	token       text,
	since       timestamptz,
	PRIMARY KEY (destination, slot)
);

-- smtpkit_outbox_take takes a token from the bucket of dest, which fills
-- at per_second up to burst: it returns 0 when it took one, or else the
-- seconds until one is there.
CREATE FUNCTION smtpkit_outbox_take(dest text, per_second double precision, burst double precision)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
	have double precision;
	at timestamptz;
BEGIN
	INSERT INTO smtpkit_outbox_rates (destination, tokens, updated)
	VALUES (dest, burst, clock_timestamp()) ON CONFLICT (destination) DO NOTHING;
	SELECT tokens, updated INTO have, at FROM smtpkit_outbox_rates WHERE destination = dest FOR UPDATE;
	have := least(burst, have + greatest(0, extract(epoch FROM clock_timestamp() - at)) * per_second);
	at := greatest(at, clock_timestamp());
	IF have >= 1 THEN
		UPDATE smtpkit_outbox_rates SET tokens = have - 1, updated = at WHERE destination = dest;
		RETURN 0;
	END IF;
	UPDATE smtpkit_outbox_rates SET tokens = have, updated = at WHERE destination = dest;
	RETURN (1 - have) / per_second;
END
$$;
