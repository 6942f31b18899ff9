//! `wa-producer`: puts browser events on the `web_analytics` Kafka topic.
//!
//! What it will own (SPEC §6): `simulate`, a seeded traffic simulator (users,
//! sessions, Zipf page popularity, out-of-order jitter and late events for
//! testing) and `serve`, an HTTP collector for real browser beacons
//! (`POST /collect`, `GET /collect.js`, `/health`, `/metrics`). Both publish
//! JSON events keyed by `session_id` through an idempotent Kafka producer,
//! with the record timestamp set to the event time.
//!
//! It must never lose an accepted event silently: a full Kafka queue is
//! answered with 503, invalid input with 400 and a reason.

fn main() -> anyhow::Result<()> {
    anyhow::bail!("wa-producer is not built yet (see the producer issue)")
}
