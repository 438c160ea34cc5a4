-- Who may use the API: people's accounts and sessions, machines' API keys, and the webhook
-- tokens of complaint channels. Secrets are never stored: passwords as scrypt hashes, tokens
-- (random, 256 bits) as their SHA-256.
CREATE TABLE app_user (
  id bigserial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  display_name text NOT NULL,
  role text NOT NULL CHECK (role IN ('operator', 'dispatcher', 'crew', 'engineer', 'admin')),
  crew_id text,
  password_hash text NOT NULL,
  -- Demo accounts have published passwords; the service warns while any is enabled.
  demo boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  disabled_at timestamptz,
  CHECK ((role = 'crew') = (crew_id IS NOT NULL))
);

CREATE TABLE user_session (
  token_hash bytea PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX user_session_expiry ON user_session (expires_at);

CREATE TABLE api_key (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  role text NOT NULL CHECK (role IN ('operator', 'dispatcher', 'crew', 'engineer', 'admin')),
  crew_id text,
  key_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz,
  last_used_at timestamptz,
  CHECK ((role = 'crew') = (crew_id IS NOT NULL))
);

CREATE TABLE webhook_token (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  channel text NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
