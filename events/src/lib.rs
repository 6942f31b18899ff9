//! The web analytics event model, shared by every component.
//!
//! What will live here: the [`WebEvent`]-style struct of SPEC §2 (`event_id`,
//! `user_id`, `session_id`, `event_type`, `page_url`, `browser`, `os`,
//! `country`, `event_time`), its serde form, and validation with a typed
//! rejection reason. Parsing accepts `event_time` as RFC 3339 or epoch
//! milliseconds and never panics on bad input. The crate depends on no other
//! crate of ours, so every component can use it and dependencies stay one-way.
//!
//! Nothing here yet: the producer issue fills it in.
