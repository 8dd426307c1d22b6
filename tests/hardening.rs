//! Nothing a client sends takes the server down, and no session can be
//! bricked: timeouts, connection limits, body and context bounds, store
//! failures, sessions that do not fit the program.
