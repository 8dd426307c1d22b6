//! Secrets stay secret: masked values, hidden and read-only variables, and
//! conversation ids.
