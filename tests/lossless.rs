//! No edit loses a line: `fmt` keeps comments, byte-order marks and every
//! valid file it is given.
