//! `cellflow nlu eval` and `cellflow nlu classify`: reports, exit codes,
//! formats.
