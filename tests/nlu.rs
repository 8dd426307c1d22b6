//! The built-in classifier as users meet it: routing on small bots, typos,
//! one-word messages, out of scope, languages, and an accuracy floor.
